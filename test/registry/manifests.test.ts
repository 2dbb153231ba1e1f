/**
 * RegistryClient against a real docker-registry (anonymous): manifest types,
 * digests, HEAD, blobs and Range, schema 1 rejection, not-found errors,
 * mirror fallback. Expected digests come from the image builder (sha256 of
 * the bytes we pushed), not from the client.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startRegistry } from '../harness/registry.js';
import type { TestRegistry } from '../harness/registry.js';
import { RegistryClient } from '../../src/registry/index.js';
import type { RegistriesConfig, Endpoint } from '../../src/config/index.js';
import { isOci2fsError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/events.js';
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_MANIFEST,
  MANIFEST_ACCEPT,
  DOCKER_SCHEMA1_SIGNED_MANIFEST,
  selectManifest,
  parsePlatform,
} from '../../src/image/index.js';
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

const client = (events?: (e: ProgressEvent) => void): RegistryClient =>
  new RegistryClient({ insecureRegistries: [reg.host], retry: { baseDelayMs: 5, maxDelayMs: 20 }, events });
const loc = (repository: string): { registry: string; repository: string } => ({ registry: reg.host, repository });

test('OCI manifest by tag: bytes, digest, media type, full Accept list', async () => {
  const m = await client().getManifest(loc('test/img'), 'v1');
  assert.deepEqual(Buffer.from(m.bytes), fx.img.manifestBytes);
  assert.equal(m.digest, fx.img.manifestDigest);
  assert.equal(m.mediaType, OCI_MANIFEST);
  assert.equal(m.document.kind, 'manifest');
  const req = reg.proxy.requests.find((r) => r.path === '/v2/test/img/manifests/v1')!;
  for (const t of MANIFEST_ACCEPT.split(', ')) assert.ok(req.accept?.includes(t), `Accept lacks ${t}`);
});

test('manifest by digest and HEAD agree with what was pushed', async () => {
  const c = client();
  const m = await c.getManifest(loc('test/img'), fx.img.manifestDigest);
  assert.equal(m.digest, fx.img.manifestDigest);
  const h = await c.headManifest(loc('test/img'), 'v1');
  assert.deepEqual(h, { digest: fx.img.manifestDigest, mediaType: OCI_MANIFEST, size: fx.img.manifestSize });
  assert.equal(await c.headManifest(loc('test/img'), 'missing'), undefined);
});

test('Docker manifest list with two platforms, then the arm64 manifest by digest', async () => {
  const c = client();
  const idx = await c.getManifest(loc('test/multi'), 'v1');
  assert.equal(idx.mediaType, DOCKER_MANIFEST_LIST);
  assert.equal(idx.digest, fx.multi.indexDigest);
  assert.equal(idx.document.kind, 'index');
  if (idx.document.kind !== 'index') return;
  const d = selectManifest(idx.document.index, parsePlatform('linux/aarch64'));
  assert.equal(d.digest, fx.arm64.manifestDigest);
  const m = await c.getManifest(loc('test/multi'), d.digest);
  assert.equal(m.mediaType, DOCKER_MANIFEST);
  assert.deepEqual(Buffer.from(m.bytes), fx.arm64.manifestBytes);
});

test('blobs stream whole, and from an offset with Range', async () => {
  const c = client();
  const layer = fx.img.layers[1];
  const want = await fx.blob(layer.digest);
  const whole = await c.openBlob(loc('test/img'), layer.digest);
  assert.equal(whole.start, 0);
  assert.equal(whole.size, want.length);
  const got = await collect(whole.body);
  assert.equal('sha256:' + createHash('sha256').update(got).digest('hex'), layer.digest);
  const part = await c.openBlob(loc('test/img'), layer.digest, 1000);
  assert.equal(part.start, 1000);
  assert.equal(part.size, want.length);
  assert.deepEqual(await collect(part.body), want.subarray(1000));
  assert.equal(reg.proxy.requests.at(-1)!.range, 'bytes=1000-');
});

test('a server that ignores Range gives start 0 and the whole blob', async () => {
  reg.proxy.addFault({ path: /\/blobs\//, fault: { kind: 'ignore-range' } });
  const layer = fx.img.layers[1];
  const b = await client().openBlob(loc('test/img'), layer.digest, 5000);
  assert.equal(b.start, 0);
  assert.deepEqual(await collect(b.body), await fx.blob(layer.digest));
});

test('schema 1 manifests are rejected with E_UNSUPPORTED', async () => {
  const body = JSON.stringify({ schemaVersion: 1, name: 'test/old', tag: 'v1', architecture: 'amd64', fsLayers: [], history: [], signatures: [] });
  reg.proxy.addFault({
    path: '/v2/test/old/manifests/v1',
    fault: { kind: 'respond', status: 200, headers: { 'Content-Type': DOCKER_SCHEMA1_SIGNED_MANIFEST }, body },
  });
  await assert.rejects(client().getManifest(loc('test/old'), 'v1'), (e) => isOci2fsError(e, 'E_UNSUPPORTED') && /schema 1/.test(e.message));
});

test('missing manifest and blob: E_NOT_FOUND naming registry, repository and reference', async () => {
  await assert.rejects(
    client().getManifest(loc('test/img'), 'nope'),
    (e) => isOci2fsError(e, 'E_NOT_FOUND') && e.message.includes(`${reg.host}/test/img:nope`),
  );
  const digest = 'sha256:' + '0'.repeat(64);
  await assert.rejects(
    client().openBlob(loc('test/img'), digest),
    (e) => isOci2fsError(e, 'E_NOT_FOUND') && e.message.includes(`test/img@${digest}`),
  );
});

test('a mirror without the image falls back to the origin, with a warning', async () => {
  const mirrorRepo = 'mirror-of/test/img';
  const config: RegistriesConfig = {
    endpoints: (registry: string, repository: string): Endpoint[] => [
      { host: reg.host, repository: mirrorRepo, insecure: true, mirror: true },
      { host: registry, repository, insecure: true, mirror: false },
    ],
    isInsecure: () => true,
    isBlocked: () => false,
  };
  const events: ProgressEvent[] = [];
  const c = new RegistryClient({ config, events: (e) => events.push(e), retry: { baseDelayMs: 5 } });
  const m = await c.getManifest({ registry: reg.host, repository: 'test/img' }, 'v1');
  assert.equal(m.digest, fx.img.manifestDigest);
  assert.equal(reg.proxy.count(`/v2/${mirrorRepo}/manifests/v1`, 'GET'), 1);
  assert.equal(reg.proxy.count('/v2/test/img/manifests/v1', 'GET'), 1);
  assert.ok(events.some((e) => e.type === 'warning' && e.code === 'E_NOT_FOUND'));
});

test('plain HTTP only for insecure registries: without the flag we speak TLS and fail', async () => {
  const c = new RegistryClient({ retry: { attempts: 1 } });
  await assert.rejects(c.getManifest(loc('test/img'), 'v1'), (e) => isOci2fsError(e, 'E_NETWORK') && /--insecure-registry/.test(e.message));
  assert.equal(reg.proxy.count('/v2/test/img/manifests/v1'), 0);
});

test('a gzip Content-Encoding on a manifest (some proxies add one) is decoded, not mistaken for truncation', async () => {
  reg.proxy.addFault({
    path: '/v2/test/img/manifests/v1',
    fault: { kind: 'respond', status: 200, headers: { 'Content-Type': OCI_MANIFEST, 'Content-Encoding': 'gzip' }, body: gzipSync(fx.img.manifestBytes) },
  });
  const m = await client().getManifest(loc('test/img'), 'v1');
  assert.equal(m.digest, fx.img.manifestDigest);
  assert.equal(reg.proxy.count('/v2/test/img/manifests/v1'), 1);
});

test('HEAD without Docker-Content-Digest falls back to GET', async () => {
  reg.proxy.addFault({ path: '/v2/test/img/manifests/v1', method: 'HEAD', fault: { kind: 'respond', status: 200, headers: { 'Content-Type': OCI_MANIFEST } } });
  const h = await client().headManifest(loc('test/img'), 'v1');
  assert.deepEqual(h, { digest: fx.img.manifestDigest, mediaType: OCI_MANIFEST, size: fx.img.manifestSize });
  assert.equal(reg.proxy.count('/v2/test/img/manifests/v1', 'GET'), 1);
});

test('an HTTPS registry with an unverifiable certificate: E_NETWORK with a CA hint, never a silent downgrade', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  let hits = 0;
  const server = createHttpsServer({ key: await readFile(join(dir, 'k.pem')), cert: await readFile(join(dir, 'c.pem')) }, (_req, res) => {
    hits++;
    res.writeHead(200).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const c = new RegistryClient({ retry: { attempts: 2, baseDelayMs: 5 } });
  await assert.rejects(c.getManifest({ registry: host, repository: 'x/y' }, 'v1'), (e) => isOci2fsError(e, 'E_NETWORK') && /NODE_EXTRA_CA_CERTS/.test(e.message));
  assert.equal(hits, 0);
});
