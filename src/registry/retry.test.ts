import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, DEFAULT_RETRY_POLICY, isRetryableNetworkError, parseRetryAfter, resolvePolicy, retryDelay } from './retry.js';
import { displayUrl } from './transport.js';

test('the default policy: 5 attempts, 500 ms base, factor 2', () => {
  assert.equal(DEFAULT_RETRY_POLICY.attempts, 5);
  assert.equal(DEFAULT_RETRY_POLICY.baseDelayMs, 500);
  assert.equal(DEFAULT_RETRY_POLICY.factor, 2);
  assert.equal(resolvePolicy({ attempts: 0 }).attempts, 1);
});

test('backoff grows geometrically within ±25 % jitter, is capped and deterministic', () => {
  const p = resolvePolicy();
  for (let n = 1; n <= 4; n++) {
    const nominal = 500 * 2 ** (n - 1);
    const d = backoffDelay(p, n, 'https://r/v2/x');
    assert.ok(d >= nominal * 0.75 && d <= nominal * 1.25, `attempt ${n}: ${d}`);
    assert.equal(d, backoffDelay(p, n, 'https://r/v2/x'));
  }
  assert.ok(backoffDelay(p, 30, 'k') <= p.maxDelayMs);
  const spread = new Set(['a', 'b', 'c', 'd', 'e'].map((k) => backoffDelay(p, 2, k)));
  assert.ok(spread.size > 1, 'different URLs get different jitter');
});

test('Retry-After: seconds, HTTP date, junk; capped by the policy', () => {
  const now = Date.parse('Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:47 GMT', now), 10_000);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:40:00 GMT', now), 0);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
  assert.equal(retryDelay(resolvePolicy({ maxRetryAfterMs: 5000 }), 1, 'k', '3600'), 5000);
  assert.equal(retryDelay(resolvePolicy(), 1, 'k', '2'), 2000);
});

test('which network failures are retryable', () => {
  const withCause = (code: string): Error => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('x'), { code }) });
  assert.ok(isRetryableNetworkError(withCause('ECONNRESET')));
  assert.ok(isRetryableNetworkError(withCause('UND_ERR_SOCKET')));
  assert.ok(!isRetryableNetworkError(withCause('ERR_SSL_WRONG_VERSION_NUMBER')));
  assert.ok(!isRetryableNetworkError(new RangeError('bug')));
});

test('URLs shown in events and errors lose their query (signed URLs)', () => {
  assert.equal(displayUrl('https://s3.example/bucket/blob?X-Amz-Signature=secret&x=1'), 'https://s3.example/bucket/blob');
});
