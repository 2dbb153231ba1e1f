/**
 * RegistryClient against a faulty network: the fault proxy in front of a
 * real docker-registry injects 503 bursts, 429 + Retry-After, dropped and
 * short bodies, flipped bytes; plus an unreachable host.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startRegistry, freePort } from '../harness/registry.js';
import type { TestRegistry } from '../harness/registry.js';
import { RegistryClient } from '../../src/registry/index.js';
import type { RetryPolicy } from '../../src/registry/index.js';
import { isOci2fsError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/events.js';
import { pushFixture, collect } from './fixture.js';
import type { Fixture } from './fixture.js';

let reg: TestRegistry;
let fx: Fixture;

before(async () => {
  reg = await startRegistry();
  fx = await pushFixture(reg);
});
after(async () => {
  await reg?.stop();
  await fx?.cleanup();
});
beforeEach(() => {
  reg.proxy.clearFaults();
  reg.proxy.resetCounts();
});

const FAST: Partial<RetryPolicy> = { baseDelayMs: 5, maxDelayMs: 20 };

function client(retry: Partial<RetryPolicy> = FAST): { c: RegistryClient; events: ProgressEvent[] } {
  const events: ProgressEvent[] = [];
  return { c: new RegistryClient({ insecureRegistries: [reg.host], retry, events: (e) => events.push(e) }), events };
}
const IMG = (): { registry: string; repository: string } => ({ registry: reg.host, repository: 'test/img' });
const MANIFEST = '/v2/test/img/manifests/v1';
const sha256 = (b: Uint8Array): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('a burst of 503s is retried with retry events, then succeeds', async () => {
  reg.proxy.addFault({ path: MANIFEST, times: 2, fault: { kind: 'respond', status: 503 } });
  const { c, events } = client();
  const m = await c.getManifest(IMG(), 'v1');
  assert.equal(m.digest, fx.img.manifestDigest);
  assert.equal(reg.proxy.count(MANIFEST, 'GET'), 3);
  const retries = events.filter((e) => e.type === 'retry');
  assert.deepEqual(retries.map((e) => e.type === 'retry' && [e.attempt, e.reason]), [[1, 'HTTP 503'], [2, 'HTTP 503']]);
});

test('429 with Retry-After (seconds and HTTP date) is honoured', async () => {
  reg.proxy.addFault({ path: MANIFEST, nth: 1, fault: { kind: 'respond', status: 429, headers: { 'Retry-After': '1' } } });
  const { c, events } = client();
  const t0 = Date.now();
  await c.getManifest(IMG(), 'v1');
  assert.ok(Date.now() - t0 >= 950, 'waited for Retry-After');
  const r = events.find((e) => e.type === 'retry');
  assert.ok(r && r.type === 'retry' && r.delayMs === 1000 && r.reason === 'HTTP 429');

  reg.proxy.clearFaults();
  const date = new Date(Date.now() + 3_600_000).toUTCString();
  reg.proxy.addFault({ path: MANIFEST, nth: 1, fault: { kind: 'respond', status: 429, headers: { 'Retry-After': date } } });
  const { c: c2, events: ev2 } = client({ ...FAST, maxRetryAfterMs: 50 });
  await c2.getManifest(IMG(), 'v1');
  const r2 = ev2.find((e) => e.type === 'retry');
  assert.ok(r2 && r2.type === 'retry' && r2.delayMs === 50, 'an hour-long Retry-After is capped by the policy');
});

test('persistent 503: E_REGISTRY after exactly `attempts` requests', async () => {
  reg.proxy.addFault({ path: MANIFEST, fault: { kind: 'respond', status: 503 } });
  const { c } = client({ ...FAST, attempts: 3 });
  await assert.rejects(c.getManifest(IMG(), 'v1'), (e) => isOci2fsError(e, 'E_REGISTRY') && /503/.test(e.message));
  assert.equal(reg.proxy.count(MANIFEST, 'GET'), 3);
});

test('a manifest body cut mid-way (drop and short body) is fetched again', async () => {
  for (const kind of ['drop', 'short-body'] as const) {
    reg.proxy.clearFaults();
    reg.proxy.resetCounts();
    reg.proxy.addFault({ path: MANIFEST, nth: 1, fault: { kind, afterBytes: 50 } });
    const { c, events } = client();
    const m = await c.getManifest(IMG(), 'v1');
    assert.equal(m.digest, fx.img.manifestDigest, kind);
    assert.equal(reg.proxy.count(MANIFEST, 'GET'), 2, kind);
    assert.ok(events.some((e) => e.type === 'retry'), kind);
  }
});

test('a blob body cut mid-way fails with E_NETWORK and resumes with Range at the right start', async () => {
  const layer = fx.img.layers[1];
  const path = `/v2/test/img/blobs/${layer.digest}`;
  for (const kind of ['drop', 'short-body'] as const) {
    reg.proxy.clearFaults();
    reg.proxy.addFault({ path, nth: 1, fault: { kind, afterBytes: 70_000 } });
    const { c } = client();
    const first = await c.openBlob(IMG(), layer.digest);
    const got: Uint8Array[] = [];
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of first.body) {
          got.push(chunk);
          received += chunk.length;
        }
      })(),
      (e) => isOci2fsError(e, 'E_NETWORK'),
      kind,
    );
    assert.ok(received > 0 && received <= 70_000, `${kind}: received ${received}`);
    const rest = await c.openBlob(IMG(), layer.digest, received);
    assert.equal(rest.start, received);
    const all = Buffer.concat([...got, await collect(rest.body)]);
    assert.equal(sha256(all), layer.digest, kind);
  }
});

test('a flipped byte in a manifest is caught by digest (by digest and by tag)', async () => {
  reg.proxy.addFault({ path: /\/manifests\//, fault: { kind: 'flip-byte', offset: 10 } });
  const { c } = client();
  await assert.rejects(c.getManifest(IMG(), fx.img.manifestDigest), (e) => isOci2fsError(e, 'E_DIGEST_MISMATCH'));
  await assert.rejects(c.getManifest(IMG(), 'v1'), (e) => isOci2fsError(e, 'E_DIGEST_MISMATCH') && /Docker-Content-Digest/.test(e.message));
});

test('a flipped byte in a blob reaches the caller (the store verifies blobs)', async () => {
  const layer = fx.img.layers[0];
  reg.proxy.addFault({ path: `/v2/test/img/blobs/${layer.digest}`, fault: { kind: 'flip-byte', offset: 3 } });
  const { c } = client();
  const b = await c.openBlob(IMG(), layer.digest);
  assert.notEqual(sha256(await collect(b.body)), layer.digest);
});

test('an unreachable registry: E_NETWORK after the retries, with retry events', async () => {
  const host = `127.0.0.1:${await freePort()}`;
  const events: ProgressEvent[] = [];
  const c = new RegistryClient({ insecureRegistries: [host], retry: { ...FAST, attempts: 3 }, events: (e) => events.push(e) });
  await assert.rejects(c.getManifest({ registry: host, repository: 'x/y' }, 'v1'), (e) => isOci2fsError(e, 'E_NETWORK') && /3 attempts/.test(e.message));
  assert.equal(events.filter((e) => e.type === 'retry').length, 2);
});

test('a registry that does not answer in time is retried, then E_NETWORK', async () => {
  reg.proxy.addFault({ path: MANIFEST, nth: 1, fault: { kind: 'delay', ms: 400 } });
  const { c, events } = client({ ...FAST, responseTimeoutMs: 100 });
  const m = await c.getManifest(IMG(), 'v1');
  assert.equal(m.digest, fx.img.manifestDigest);
  assert.ok(events.some((e) => e.type === 'retry' && /within 100 ms/.test(e.reason)));
  reg.proxy.addFault({ path: MANIFEST, fault: { kind: 'delay', ms: 400 } });
  const { c: c2 } = client({ ...FAST, responseTimeoutMs: 100, attempts: 2 });
  await assert.rejects(c2.getManifest(IMG(), 'v1'), (e) => isOci2fsError(e, 'E_NETWORK') && /2 attempts/.test(e.message));
});

test('a dead mirror is tried once, then skipped for later requests', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const config = {
    endpoints: (registry: string, repository: string) => [
      { host: dead, repository, insecure: true, mirror: true },
      { host: registry, repository, insecure: true, mirror: false },
    ],
    isInsecure: () => true,
    isBlocked: () => false,
  };
  const events: ProgressEvent[] = [];
  const c = new RegistryClient({ config, retry: { ...FAST, attempts: 2 }, events: (e) => events.push(e) });
  await c.getManifest(IMG(), 'v1');
  await c.openBlob(IMG(), fx.img.layers[0].digest).then((b) => collect(b.body));
  const warnings = events.filter((e) => e.type === 'warning');
  assert.equal(warnings.length, 1);
  assert.ok(warnings[0].type === 'warning' && warnings[0].code === 'E_NETWORK' && warnings[0].message.includes(dead));
});

test('blob bodies come over connections of their own (bulk client), manifests over the keep-alive pool', async () => {
  const { c } = client();
  await c.getManifest(IMG(), 'v1');
  const layer = fx.img.layers[0];
  const body = await collect((await c.openBlob(IMG(), layer.digest)).body);
  assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, layer.digest);
  const blobGets = reg.proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
  const manifestGets = reg.proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/'));
  assert.ok(blobGets.length >= 1 && manifestGets.length >= 1);
  assert.ok(blobGets.every((r) => r.connection === 'close'), JSON.stringify(blobGets.map((r) => r.connection)));
  assert.ok(manifestGets.every((r) => r.connection === 'keep-alive'), JSON.stringify(manifestGets.map((r) => r.connection)));
});
