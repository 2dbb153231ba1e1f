/**
 * The retry policy for registry requests: which failures are retried, how
 * long to wait (exponential backoff with deterministic jitter, or the
 * server's Retry-After), and when to give up. See docs/registry.md.
 */
import { createHash } from 'node:crypto';

export interface RetryPolicy {
  /** Total attempts including the first. */
  attempts: number;
  /** Delay before the 2nd attempt, in ms. */
  baseDelayMs: number;
  /** Each further delay is multiplied by this. */
  factor: number;
  /** No computed delay exceeds this. */
  maxDelayMs: number;
  /** A Retry-After longer than this is cut to it. */
  maxRetryAfterMs: number;
  /** How long one attempt may wait for the response head (status + headers); then it counts as a retryable failure. */
  responseTimeoutMs: number;
}

/** The default policy: 5 attempts, 500 ms, ×2, ≤ 10 s; Retry-After honoured up to 60 s; 60 s to the response head. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 5,
  baseDelayMs: 500,
  factor: 2,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  responseTimeoutMs: 60_000,
});

/** HTTP statuses worth retrying: rate limiting and gateway/availability trouble. */
export const RETRYABLE_STATUSES: readonly number[] = [429, 502, 503, 504];

/** Socket-level error codes worth retrying (Node net + undici). */
export const RETRYABLE_NETWORK_CODES: readonly string[] = [
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
];

/** Merges a partial policy over the default, clamping nonsense values. */
export function resolvePolicy(p: Partial<RetryPolicy> = {}): RetryPolicy {
  const r = { ...DEFAULT_RETRY_POLICY, ...p };
  r.attempts = Math.max(1, Math.floor(r.attempts));
  r.baseDelayMs = Math.max(0, r.baseDelayMs);
  r.factor = Math.max(1, r.factor);
  return r;
}

/**
 * Delay before attempt `attempt + 1` (attempt is 1-based: the one that
 * failed). Jitter in [0.75, 1.25) is derived from `key` and the attempt, so
 * runs are reproducible while different URLs spread out.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, key: string): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** (attempt - 1));
  const h = createHash('sha256').update(`${key}#${attempt}`).digest();
  const frac = h.readUInt32BE(0) / 0x1_0000_0000;
  return Math.round(Math.min(policy.maxDelayMs, raw * (0.75 + 0.5 * frac)));
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns ms
 * (≥ 0) or undefined when absent/unparseable. `nowMs` is injectable for tests.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - nowMs);
}

/** The delay for a retryable response: Retry-After when given (capped), else backoff. */
export function retryDelay(policy: RetryPolicy, attempt: number, key: string, retryAfter: string | null | undefined): number {
  const ra = parseRetryAfter(retryAfter);
  if (ra !== undefined) return Math.min(ra, policy.maxRetryAfterMs);
  return backoffDelay(policy, attempt, key);
}

/** The error code of a fetch failure (undici wraps the socket error in `cause`). */
export function networkErrorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Thrown (as the abort reason) when a response head does not arrive in time. */
export class ResponseTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no response within ${ms} ms`);
    this.name = 'ResponseTimeoutError';
  }
}

/** True for fetch/stream failures that a new attempt may fix. */
export function isRetryableNetworkError(e: unknown): boolean {
  if (e instanceof ResponseTimeoutError) return true;
  const code = networkErrorCode(e);
  if (code !== undefined) return RETRYABLE_NETWORK_CODES.includes(code);
  // undici reports a dropped connection as TypeError('fetch failed' | 'terminated') without a code
  return e instanceof TypeError && /fetch failed|terminated|other side closed/i.test(e.message);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
