/**
 * HTTP for the registry client: one request = retries around (auth rounds
 * around (manual redirects around fetch)). Redirects are followed by hand so
 * the Authorization header never reaches another origin; retryable failures
 * (RETRYABLE_STATUSES, socket errors) back off per the RetryPolicy and emit
 * `retry` events. See docs/registry.md.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { ProgressListener } from '../events.js';
import { AuthSession } from './auth.js';
import { discardBody, httpFetch, type RegistryResponse } from './http.js';
import type { AuthTarget } from './auth.js';
import {
  isRetryableNetworkError,
  networkErrorCode,
  RETRYABLE_STATUSES,
  retryDelay,
  backoffDelay,
  sleep,
  ResponseTimeoutError,
} from './retry.js';
import type { RetryPolicy } from './retry.js';

/** Most redirects we follow for one request (fetch spec uses 20; registries need 1–2). */
export const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** A large body is expected (blobs): see HttpInit.bulk. */
  bulk?: boolean;
}

/** The URL without query and fragment: what we may show (signed URLs carry secrets in the query). */
export function displayUrl(url: string | URL): string {
  const u = new URL(url.toString());
  return `${u.protocol}//${u.host}${u.pathname}`;
}


export class Transport {
  readonly auth: AuthSession;
  /** host[:port] of insecure registries reached over HTTPS: their certificates are not verified. */
  readonly unverifiedTls = new Set<string>();

  constructor(
    private readonly policy: RetryPolicy,
    private readonly events: ProgressListener,
    private readonly userAgent: string,
    resolver: ConstructorParameters<typeof AuthSession>[0],
  ) {
    this.auth = new AuthSession(resolver, (url, init) =>
      this.withRetries(url, (u) => this.follow(u, { method: (init.method ?? 'GET') as RequestSpec['method'], headers: init.headers as Record<string, string>, body: init.body as string | undefined }, undefined)),
    );
  }

  /**
   * Sends `spec` to `url` (fetch with redirect: 'manual'), following
   * redirects by hand. `authorization` goes only to the origin of `url`.
   * The headers in spec.headers (which may include credentials, for token
   * requests) are likewise sent only to that origin.
   */
  private async follow(url: string, spec: RequestSpec, authorization: string | undefined): Promise<RegistryResponse> {
    const origin = new URL(url).origin;
    let cur = new URL(url);
    let method = spec.method;
    let body = spec.body;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = cur.origin === origin;
      // Lower-case names, so a later field replaces an earlier one whatever its case.
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(spec.headers ?? {})) {
        if (sameOrigin || k.toLowerCase() !== 'authorization') headers[k.toLowerCase()] = v;
      }
      headers['user-agent'] = this.userAgent;
      if (authorization && sameOrigin) headers.authorization = authorization;
      const res = await this.fetchHead(cur, { method, headers, ...(body !== undefined ? { body } : {}), bulk: spec.bulk === true });
      if (!REDIRECT_STATUSES.includes(res.status)) return res;
      const loc = res.headers.get('location');
      await discardBody(res);
      if (!loc) {
        throw new Oci2fsError(ErrorCode.REGISTRY, `${displayUrl(cur)} answered HTTP ${res.status} without a Location header`);
      }
      const next = new URL(loc, cur);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new Oci2fsError(ErrorCode.REGISTRY, `${displayUrl(cur)} redirected to an unsupported scheme ${next.protocol}`);
      }
      if (cur.protocol === 'https:' && next.protocol === 'http:') {
        throw new Oci2fsError(ErrorCode.REGISTRY, `${displayUrl(cur)} redirected from HTTPS to plain HTTP (${next.host}); refusing the downgrade`);
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      cur = next;
    }
    throw new Oci2fsError(ErrorCode.REGISTRY, `Too many redirects (over ${MAX_REDIRECTS}) starting at ${displayUrl(url)}`);
  }

  /**
   * fetch, aborted when the response head takes longer than the policy's
   * responseTimeoutMs. The timer stops once the head is in, so long bodies
   * are not cut (undici's own body timeout covers stalled bodies).
   */
  private async fetchHead(url: URL, init: { method: string; headers: Record<string, string>; body?: string; bulk: boolean }): Promise<RegistryResponse> {
    const ms = this.policy.responseTimeoutMs;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new ResponseTimeoutError(ms)), ms);
    try {
      return await httpFetch(url, {
        method: init.method,
        headers: init.headers,
        body: init.body,
        signal: ac.signal,
        verifyTls: !this.unverifiedTls.has(url.host),
        bulk: init.bulk,
      });
    } catch (e) {
      if (ac.signal.aborted && ac.signal.reason instanceof ResponseTimeoutError) throw ac.signal.reason;
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `attempt` until it yields a non-retryable outcome: retries socket
   * errors and RETRYABLE_STATUSES (honouring Retry-After) per the policy.
   * After the last attempt a retryable status is returned as is; a socket
   * error becomes E_NETWORK.
   */
  async withRetries<T extends RegistryResponse | { res: RegistryResponse }>(url: string, attempt: (url: string) => Promise<T>): Promise<T> {
    const shown = displayUrl(url);
    for (let n = 1; ; n++) {
      let out: T;
      try {
        out = await attempt(url);
      } catch (e) {
        if (e instanceof Oci2fsError || !isRetryableNetworkError(e)) {
          if (e instanceof Oci2fsError) throw e;
          throw new Oci2fsError(ErrorCode.NETWORK, `Request to ${shown} failed: ${describeNetworkError(e)}${tlsHint(e)}`, { cause: e });
        }
        if (n >= this.policy.attempts) {
          throw new Oci2fsError(ErrorCode.NETWORK, `Request to ${shown} failed after ${n} attempts: ${describeNetworkError(e)}; check the network or retry later`, { cause: e });
        }
        const delayMs = backoffDelay(this.policy, n, shown);
        this.events({ type: 'retry', url: shown, attempt: n, delayMs, reason: describeNetworkError(e) });
        await sleep(delayMs);
        continue;
      }
      const o = out as RegistryResponse | { res: RegistryResponse };
      const res = 'res' in o ? o.res : o;
      if (!RETRYABLE_STATUSES.includes(res.status) || n >= this.policy.attempts) return out;
      await discardBody(res);
      const delayMs = retryDelay(this.policy, n, shown, res.headers.get('retry-after'));
      this.events({ type: 'retry', url: shown, attempt: n, delayMs, reason: `HTTP ${res.status}` });
      await sleep(delayMs);
    }
  }

  /**
   * One authenticated registry request (no retries): sends the known
   * Authorization, answers one 401 challenge (fetching or refreshing a token,
   * or arming Basic) and sends once more.
   */
  async authenticated(t: AuthTarget, url: string, spec: RequestSpec): Promise<RegistryResponse> {
    const sent = this.auth.authorization(t);
    const res = await this.follow(url, spec, sent);
    if (res.status !== 401) return res;
    const challenge = res.headers.get('www-authenticate');
    await discardBody(res);
    if (!(await this.auth.answerChallenge(t, challenge, sent))) return res;
    return this.follow(url, spec, this.auth.authorization(t));
  }

  /** An authenticated request with retries; the response body is unread. */
  send(t: AuthTarget, url: string, spec: RequestSpec): Promise<RegistryResponse> {
    return this.withRetries(url, (u) => this.authenticated(t, u, spec));
  }

  /**
   * An authenticated request with retries whose body (when the status is
   * 2xx) is read inside the retry loop, so a connection dropped mid-body is
   * retried too. Bodies over `limit` bytes fail with E_LIMIT.
   */
  sendAndRead(t: AuthTarget, url: string, spec: RequestSpec, limit: number, what: string): Promise<{ res: RegistryResponse; bytes: Uint8Array }> {
    return this.withRetries(url, async (u) => {
      const res = await this.authenticated(t, u, spec);
      if (res.status < 200 || res.status >= 300) return { res, bytes: new Uint8Array(0) };
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (declared > limit) {
        await discardBody(res);
        throw new Oci2fsError(ErrorCode.LIMIT, `${what} is ${declared} bytes, over the ${limit}-byte limit`);
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      if (res.body) {
        for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
          total += c.length;
          if (total > limit) {
            await discardBody(res);
            throw new Oci2fsError(ErrorCode.LIMIT, `${what} exceeds the ${limit}-byte limit`);
          }
          chunks.push(c);
        }
      }
      // a Content-Encoding is undone (http.ts), after which Content-Length no longer counts what we read
      const encoded = (res.headers.get('content-encoding') ?? 'identity').toLowerCase() !== 'identity';
      if (!Number.isNaN(declared) && !encoded && spec.method !== 'HEAD' && total !== declared) {
        throw Object.assign(new TypeError('terminated: body shorter than Content-Length'), { code: 'UND_ERR_SOCKET' });
      }
      return { res, bytes: Buffer.concat(chunks) };
    });
  }
}

/** A short, secret-free description of a fetch failure. */
export function describeNetworkError(e: unknown): string {
  const code = networkErrorCode(e);
  let msg = e instanceof Error ? e.message : String(e);
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message && cause.message !== msg) msg = `${msg} (${cause.message})`;
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

/** Node/OpenSSL codes of certificates that cannot be verified. */
const CERT_CODES = ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID'];

/** A hint for TLS failures: plain-HTTP registries need --insecure-registry; private CAs need NODE_EXTRA_CA_CERTS. */
function tlsHint(e: unknown): string {
  const code = networkErrorCode(e) ?? '';
  if (CERT_CODES.includes(code)) {
    return '; the TLS certificate could not be verified: add the registry\'s CA with NODE_EXTRA_CA_CERTS=/path/ca.pem';
  }
  if (code.startsWith('ERR_SSL') || /wrong version number|packet length too long/i.test(describeNetworkError(e))) {
    return '; the server does not speak TLS here: if it is a plain-HTTP registry, use --insecure-registry HOST[:PORT]';
  }
  return '';
}
