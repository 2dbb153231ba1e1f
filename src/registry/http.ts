/**
 * HTTP for the registry client, on node:http/node:https (keep-alive agents;
 * idle sockets are unref'd, so they never keep a process alive). node's HTTP
 * stack is part of the runtime snapshot, while the first use of the global
 * fetch, Response or Headers compiles undici (~30–40 ms of every registry
 * command), and we need none of fetch's extras: the transport follows
 * redirects itself and asks for identity encoding. A stale keep-alive socket
 * fails with ECONNRESET, which the transport retries.
 *
 * Registries marked insecure (--insecure-registry, `insecure = true` in
 * registries.conf) are treated the way Docker and containers/image treat
 * them: HTTPS first, with the certificate not verified (self-signed, private
 * CA), and plain HTTP only when the server does not speak TLS at all.
 * Certificates of every other host are verified as usual.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { connect } from 'node:tls';
import { pipeline, Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { bulkFetch, endpoint } from './http1.js';
import { verifiedTlsOptions } from './trust.js';

/**
 * A connection silent this long (no byte of head or body) is given up with
 * ETIMEDOUT, which the transport retries and blob downloads resume from
 * (undici's fetch used the same 300 s as its body timeout).
 */
export const SOCKET_IDLE_TIMEOUT_MS = 300_000;

/** How long the TLS probe of an insecure registry may take before we decide. */
export const TLS_PROBE_TIMEOUT_MS = 5000;

/** Keep-alive connection pools: plain HTTP, verified HTTPS, unverified HTTPS (insecure registries only). */
let plainAgent: HttpAgent | undefined;
let verifiedAgent: HttpsAgent | undefined;
let unverifiedAgent: HttpsAgent | undefined;

/**
 * Options for TLS whose certificate is not verified (insecure registries):
 * an empty CA list, because building the root store (node's bundled roots
 * plus NODE_EXTRA_CA_CERTS) costs ~40 ms of every command's first TLS
 * connection, and no certificate is checked against it here.
 */
const UNVERIFIED_TLS = { rejectUnauthorized: false, ca: [] as string[] } as const;

/**
 * Whether `host` answers a TLS handshake. False only when a TCP connection
 * was made and the server then did not speak TLS (a plain-HTTP registry
 * answers the ClientHello with an HTTP error, or hangs up, or says nothing);
 * a refused or unreachable host is left to the real request to report.
 */
export function speaksTls(host: string, timeoutMs = TLS_PROBE_TIMEOUT_MS): Promise<boolean> {
  const { host: hostname, port, servername } = endpoint(new URL(`https://${host}`));
  return new Promise((resolve) => {
    let connected = false;
    const s = connect({ host: hostname, port, ...UNVERIFIED_TLS, ALPNProtocols: ['http/1.1'], ...(servername ? { servername } : {}) });
    const done = (v: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(!connected), timeoutMs);
    s.once('connect', () => {
      connected = true;
    });
    s.once('secureConnect', () => done(true));
    s.once('error', () => done(!connected));
    s.once('close', () => done(!connected));
  });
}

/**
 * What the registry client reads of a response: fetch's Response has the
 * same members, so test doubles may hand in real Responses, but ours are
 * made without touching the global fetch classes (whose first use compiles
 * undici). `body` is async-iterable either way.
 */
export interface RegistryResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | null;
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Response headers, looked up case-insensitively; repeated fields joined with ", " like fetch. */
class HeaderMap {
  constructor(private readonly fields: IncomingMessage['headers']) {}

  get(name: string): string | null {
    const v = this.fields[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(', ') : v;
  }
}

/** A response of httpFetch: the body is read straight from the socket. */
export class HttpResponse implements RegistryResponse {
  readonly headers: HeaderMap;

  constructor(
    readonly status: number,
    fields: IncomingMessage['headers'],
    readonly body: AsyncIterable<Uint8Array> | null,
    private readonly drop: () => void,
  ) {
    this.headers = new HeaderMap(fields);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const parts: Buffer[] = [];
    if (this.body) for await (const c of this.body) parts.push(c as Buffer);
    const all = Buffer.concat(parts);
    return all.buffer.slice(all.byteOffset, all.byteOffset + all.length) as ArrayBuffer;
  }

  async text(): Promise<string> {
    return Buffer.from(await this.arrayBuffer()).toString('utf8');
  }

  /** Drops the body unread. */
  cancel(): void {
    this.drop();
  }
}

const requireBuiltin = createRequire(import.meta.url);
/** node:zlib, loaded for the first encoded body only (we ask for identity; a warm pull never needs it). */
let zlib: typeof import('node:zlib') | undefined;

/**
 * The body with a Content-Encoding undone, as fetch does (we ask for
 * identity, but a proxy may compress anyway); the headers are left as sent.
 */
function decoded<T extends AsyncIterable<Uint8Array>>(fields: IncomingMessage['headers'], body: T): T | Readable {
  const raw = fields['content-encoding'];
  const enc = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  const z = (zlib ??= requireBuiltin('node:zlib') as typeof import('node:zlib'));
  const decoder = enc === 'gzip' || enc === 'x-gzip' ? z.createGunzip() : enc === 'deflate' ? z.createInflate() : enc === 'br' ? z.createBrotliDecompress() : undefined;
  if (!decoder) return body;
  const src = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
  pipeline(src, decoder, () => {}); // an error on either side destroys both; the reader sees it
  return decoder;
}

/** Throws a response's body away (unread); errors while doing so do not matter. */
export async function discardBody(res: RegistryResponse): Promise<void> {
  try {
    if (res instanceof HttpResponse) res.cancel();
    else await (res.body as ReadableStream<Uint8Array> | null)?.cancel();
  } catch {
    // the body is being thrown away
  }
}

export interface HttpInit {
  method: string;
  /** Request header fields (names in any case). */
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** HTTPS only: false skips certificate verification (insecure registries). */
  verifyTls: boolean;
  /** Socket idle limit, head and body (default SOCKET_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /**
   * A large body expected (blobs): a GET on its own connection through our
   * HTTP/1.1 client (http1.ts), whose receive path costs far less CPU.
   */
  bulk?: boolean;
}

/**
 * One HTTP exchange. No redirects are followed (the
 * transport does that), no Content-Encoding is asked for or undone; network
 * failures reject with node's errors (their `code` says what happened).
 */
export function httpFetch(url: URL, init: HttpInit): Promise<HttpResponse> {
  if (init.bulk && (init.method === 'GET' || init.method === 'HEAD') && init.body === undefined) return bulkHttpFetch(url, init);
  const tls = url.protocol === 'https:';
  const headers = init.headers;
  const agent = !tls
    ? (plainAgent ??= new HttpAgent({ keepAlive: true }))
    : init.verifyTls
      ? (verifiedAgent ??= new HttpsAgent({ keepAlive: true, ...verifiedTlsOptions() }))
      : (unverifiedAgent ??= new HttpsAgent({ keepAlive: true, ...UNVERIFIED_TLS }));
  const send = tls ? httpsRequest : httpRequest;
  return new Promise<HttpResponse>((resolve, reject) => {
    let head: IncomingMessage | undefined;
    const req = send(url, { method: init.method, headers, agent, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      head = res;
      const status = res.statusCode ?? 0;
      const empty = init.method === 'HEAD' || status === 204 || status === 304;
      if (empty) res.resume();
      const body = empty ? null : decoded(res.headers, res);
      resolve(new HttpResponse(status, res.headers, body, () => body?.destroy()));
    });
    req.setTimeout(init.idleTimeoutMs ?? SOCKET_IDLE_TIMEOUT_MS, () => {
      const err = Object.assign(new Error(`no data for ${init.idleTimeoutMs ?? SOCKET_IDLE_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' });
      head?.destroy(err); // a body reader sees this, not a bare "aborted"
      req.destroy(err);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** httpFetch of a bulk GET or HEAD through http1.ts. */
async function bulkHttpFetch(url: URL, init: HttpInit): Promise<HttpResponse> {
  const r = await bulkFetch(url, {
    method: init.method as 'GET' | 'HEAD',
    headers: init.headers,
    ...(init.signal ? { signal: init.signal } : {}),
    ...(url.protocol === 'https:' ? { tls: init.verifyTls ? verifiedTlsOptions() : UNVERIFIED_TLS } : {}),
    idleTimeoutMs: init.idleTimeoutMs ?? SOCKET_IDLE_TIMEOUT_MS,
  });
  const body = r.body ? decoded(r.fields, r.body) : null;
  return new HttpResponse(r.status, r.fields, body, () => {
    r.cancel();
    if (body instanceof Readable) body.destroy();
  });
}
