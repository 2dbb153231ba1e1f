/**
 * Bulk downloads (blob bodies) over our own HTTP/1.1 exchange on a plain
 * socket: one request per connection (`Connection: close`), the response
 * head parsed by http1-parse.ts, the body handed out as the chunks the
 * socket read into large slabs (http1-receiver.ts). node:http's client
 * reads 64 KiB at a time, copies every body chunk out of its parser and
 * pushes it through an IncomingMessage stream: on the bench image (445 MB
 * in six blobs, 2 cores) receiving and hashing cost ~0.9 s of the main
 * thread's CPU, which a cold pull is bound by, against ~0.45 s here.
 * Small requests (tokens, manifests, configs) keep node:http and its
 * keep-alive pools (http.ts).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { bodyFraming, ChunkedDecoder, formatRequestHead, headEnd, HttpFramingError, MAX_HEAD_BYTES, parseResponseHead, type BodyFraming, type ResponseHead } from './http1-parse.js';
import { Receiver } from './http1-receiver.js';

export interface BulkInit {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  signal?: AbortSignal;
  /** HTTPS only: options for tls.connect (certificate checks, CA list). */
  tls?: ConnectionOptions;
  /** Socket idle limit, head and body. */
  idleTimeoutMs: number;
}

export interface BulkResponse extends ResponseHead {
  /** The body bytes, decoded from the transfer framing; null for responses without one. */
  body: AsyncGenerator<Buffer> | null;
  /** Closes the connection (the body is not wanted). */
  cancel(): void;
}

/** The error a connection closed early gives (node:http says the same for a cut body). */
function closedEarly(what: string): Error {
  return Object.assign(new Error(`connection closed ${what}`), { code: 'ECONNRESET' });
}

/**
 * Where a URL's connection goes: host without IPv6 brackets, port (the
 * scheme's default when none is given), and the TLS server name (SNI),
 * which is set for host names only (RFC 6066 §3: not for IP literals).
 */
export function endpoint(url: URL): { host: string; port: number; servername?: string } {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return isIP(host) ? { host, port } : { host, port, servername: host };
}

function open(url: URL, init: BulkInit, onread: Receiver['onread']): Socket {
  const { host, port, servername } = endpoint(url);
  if (url.protocol !== 'https:') return netConnect({ host, port, onread });
  // tls.connect takes `onread` like net.connect (documented, tested in http1.test.ts); @types/node lacks it
  const opts: ConnectionOptions & { onread: Receiver['onread'] } = { ...init.tls, host, port, onread, ALPNProtocols: ['http/1.1'], ...(servername ? { servername } : {}) };
  return tlsConnect(opts);
}

/** The body of a response as it arrives, decoded from its framing. */
async function* bodyOf(socket: Socket, rx: Receiver, framing: BodyFraming): AsyncGenerator<Buffer> {
  try {
    if (framing.kind === 'length') {
      let left = framing.length;
      while (left > 0) {
        const chunk = await rx.next();
        if (chunk === null) throw closedEarly(`with ${left} bytes of the body still to come`);
        const c = chunk.length > left ? chunk.subarray(0, left) : chunk;
        left -= c.length;
        yield c;
      }
    } else if (framing.kind === 'chunked') {
      const dec = new ChunkedDecoder();
      while (!dec.done) {
        const chunk = await rx.next();
        if (chunk === null) throw closedEarly('inside a chunked body');
        for (const c of dec.push(chunk)) yield c;
      }
    } else {
      for (let chunk = await rx.next(); chunk !== null; chunk = await rx.next()) yield chunk;
    }
  } finally {
    socket.destroy();
  }
}

/** Reads the response head (1xx heads skipped); what follows it stays in `rx`. */
async function readHead(rx: Receiver, method: string): Promise<{ head: ResponseHead; framing: BodyFraming }> {
  let buf: Buffer = Buffer.alloc(0);
  for (;;) {
    const end = headEnd(buf);
    if (end > MAX_HEAD_BYTES || (end < 0 && buf.length > MAX_HEAD_BYTES)) throw new HttpFramingError(`response head over ${MAX_HEAD_BYTES} bytes`);
    if (end < 0) {
      const chunk = await rx.next();
      if (chunk === null) throw closedEarly('before the response head');
      buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
      continue;
    }
    const head = parseResponseHead(buf.subarray(0, end));
    const framing = bodyFraming(method, head);
    buf = buf.subarray(end);
    if (head.status >= 100 && head.status < 200) continue; // informational: the real head follows
    rx.unshift(buf);
    return { head, framing };
  }
}

/**
 * One request without a body on a new connection; resolves with the head
 * once it is in. Network failures reject with node's errors; a malformed
 * response with HttpFramingError (code HPE_INVALID); an abort with the
 * signal's reason.
 */
export async function bulkFetch(url: URL, init: BulkInit): Promise<BulkResponse> {
  const request = formatRequestHead(init.method, url, init.headers);
  const aborted = (): unknown => init.signal?.reason ?? Object.assign(new Error('aborted'), { name: 'AbortError' });
  if (init.signal?.aborted) throw aborted();
  const rx = new Receiver();
  const socket = open(url, init, rx.onread);
  rx.attach(socket);
  const onAbort = (): void => {
    socket.destroy(aborted() as Error);
  };
  init.signal?.addEventListener('abort', onAbort, { once: true });
  socket.setTimeout(init.idleTimeoutMs, () => {
    socket.destroy(Object.assign(new Error(`no data for ${init.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
  });
  socket.write(request);
  try {
    const { head, framing } = await readHead(rx, init.method);
    const cancel = (): void => {
      socket.destroy();
    };
    if (framing.kind === 'none') {
      socket.destroy();
      return { ...head, body: null, cancel };
    }
    return { ...head, body: bodyOf(socket, rx, framing), cancel };
  } catch (e) {
    socket.destroy();
    throw e;
  } finally {
    init.signal?.removeEventListener('abort', onAbort);
  }
}
