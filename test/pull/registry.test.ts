/**
 * `oci2fs pull` from a real docker-registry (through the harness's fault
 * proxy, which counts requests): gzip and zstd layers, an index with
 * --platform, and every fault the proxy can inject. skopeo reads the store
 * afterwards as an independent check.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { buildImage, buildIndex, makeRandomFile, type BuiltImage } from '../harness/image-builder.js';
import type { Fault, RecordedRequest } from '../harness/fault-proxy.js';
import { pushLayout } from '../harness/push.js';
import { runCli } from './cli.js';

let reg: TestRegistry;
let work: string;
let gz: BuiltImage;
let zst: BuiltImage;
let big: BuiltImage;
let amd: BuiltImage;
let arm: BuiltImage;
let indexDigest: string;

/** Size of the random (incompressible) file in the "big" image's layer. */
const BIG_FILE = 3 << 20;

before(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'oci2fs-pull-reg-'));
  const d = (n: string) => join(work, n);
  gz = await buildImage({ layers: [{ files: { 'etc/hostname': 'gz\n' } }, { files: { 'usr/a': 'a'.repeat(4000) } }], config: { Env: ['A=1'] } }, d('gz'));
  await pushLayout(d('gz'), reg.host, 'test/gz', 'v1');
  zst = await buildImage({ layers: [{ files: { 'etc/hostname': 'zstd\n' }, compression: 'zstd' }] }, d('zst'));
  await pushLayout(d('zst'), reg.host, 'test/zst', 'v1');
  await makeRandomFile(d('random.bin'), BIG_FILE, 42);
  big = await buildImage(
    { layers: [{ files: { 'small': 'small\n' } }, { files: { 'big.bin': await readFile(d('random.bin')) }, compression: 'none' }] },
    d('big'),
  );
  await pushLayout(d('big'), reg.host, 'test/big', 'v1');
  amd = await buildImage({ layers: [{ files: { arch: 'amd64\n' } }] }, d('multi'));
  arm = await buildImage({ layers: [{ files: { arch: 'arm64\n' } }], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, d('multi'));
  indexDigest = (await buildIndex([amd, arm], d('multi'))).indexDigest;
  await pushLayout(d('multi'), reg.host, 'test/multi', 'v1');
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function newStore(): Promise<string> {
  return mkdtemp(join(work, 'store-'));
}

function pull(store: string, ref: string, ...extra: string[]) {
  return runCli(['pull', '--store', store, '--insecure-registry', reg.host, ...extra, `docker://${reg.host}/${ref}`]);
}

const blobPath = (d: string) => new RegExp(`/blobs/${d.replace(':', ':')}$`);

async function partials(store: string): Promise<string[]> {
  return (await readdir(join(store, 'tmp')).catch(() => [] as string[])).filter((n) => n.endsWith('.partial'));
}

test('pull gzip and zstd images; skopeo reads them back from the store', async () => {
  const store = await newStore();
  for (const [img, repo] of [
    [gz, 'test/gz:v1'],
    [zst, 'test/zst:v1'],
  ] as const) {
    const r = await pull(store, repo);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, img.manifestDigest + '\n');
    const name = `${reg.host}/${repo}`;
    const out = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${store}:${name}`], { encoding: 'utf8' }));
    assert.deepEqual(out.Layers, img.layers.map((l) => l.digest));
    const st = JSON.parse(execFileSync('umoci', ['stat', '--image', `${store}:${name}`, '--json'], { encoding: 'utf8' })) as {
      history: { layer: { digest: string } | null }[];
    };
    assert.deepEqual(st.history.map((h) => h.layer?.digest), img.layers.map((l) => l.digest));
  }
  const v = await runCli(['verify', '--store', store]);
  assert.equal(v.code, 0, v.stdout);
});

test('an index: the host platform by default, --platform picks another, digest --index gives the index', async () => {
  const store = await newStore();
  const a = await pull(store, 'test/multi:v1', '--platform', 'linux/arm64');
  assert.equal(a.stdout.trim(), arm.manifestDigest, a.stderr);
  const b = await runCli(['digest', '--store', store, '--insecure-registry', reg.host, '--platform', 'linux/amd64', `docker://${reg.host}/test/multi:v1`]);
  assert.equal(b.stdout.trim(), amd.manifestDigest, b.stderr);
  const c = await runCli(['digest', '--index', '--store', store, '--insecure-registry', reg.host, `docker://${reg.host}/test/multi:v1`]);
  assert.equal(c.stdout.trim(), indexDigest);
  const byDigest = await pull(store, `test/multi@${indexDigest}`, '--platform', 'linux/arm64/v8');
  assert.equal(byDigest.stdout.trim(), arm.manifestDigest, byDigest.stderr);
  // Digest-addressed documents already stored are not asked for again; a tag always is.
  reg.proxy.resetCounts();
  assert.equal((await pull(store, `test/multi@${indexDigest}`, '--platform', 'linux/arm64')).code, 0);
  assert.equal(reg.proxy.count(/\/manifests\//), 0, 'pinned pull of stored documents: no manifest request');
  assert.equal((await pull(store, 'test/multi:v1', '--platform', 'linux/arm64')).code, 0);
  assert.equal(reg.proxy.count(/\/manifests\/v1$/, 'GET'), 1, 'the tag is resolved online');
  assert.equal(reg.proxy.count(new RegExp(`/manifests/${arm.manifestDigest}$`)), 0, 'the stored child manifest is reused');
});

/**
 * Pulls test/big:v1 into a new store with `faults` on GETs of its second
 * layer (added in order, so the first is the 1st GET, the second the 2nd...),
 * expects success, and returns the store and those GETs as the proxy saw them.
 */
async function pullBigLayerWithFaults(...faults: Fault[]): Promise<{ store: string; gets: RecordedRequest[] }> {
  const store = await newStore();
  const layer = big.layers[1].digest;
  reg.proxy.resetCounts();
  faults.forEach((fault, i) => reg.proxy.addFault({ path: blobPath(layer), method: 'GET', nth: i + 1, fault }));
  try {
    const r = await pull(store, 'test/big:v1');
    assert.equal(r.code, 0, r.stderr);
  } finally {
    reg.proxy.clearFaults();
  }
  return { store, gets: reg.proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(layer)) };
}

test('a connection dropped mid-blob is resumed with Range and completes', async () => {
  const { store, gets } = await pullBigLayerWithFaults({ kind: 'drop', afterBytes: 1 << 20 });
  assert.ok(gets.length >= 2, JSON.stringify(gets));
  assert.equal(gets[0].range, undefined);
  const m = /^bytes=(\d+)-$/.exec(gets[gets.length - 1].range ?? '');
  assert.ok(m && Number(m[1]) > 0, `resumed with a Range: ${JSON.stringify(gets)}`);
  assert.equal((await runCli(['verify', '--store', store])).code, 0);
});

test('a registry that ignores Range on the resume: the download restarts from zero and completes', async () => {
  const { store, gets } = await pullBigLayerWithFaults({ kind: 'drop', afterBytes: 1 << 20 }, { kind: 'ignore-range' });
  assert.equal(gets.length, 2, JSON.stringify(gets));
  assert.equal(gets[1].fault, 'ignore-range');
  assert.equal((await runCli(['verify', '--store', store])).code, 0);
});

test('a short body is completed with a Range request', async () => {
  const { gets } = await pullBigLayerWithFaults({ kind: 'short-body', afterBytes: 500_000 });
  assert.equal(gets[gets.length - 1].range, 'bytes=500000-');
});

test('429 with Retry-After and a burst of 503 are retried', async () => {
  const store = await newStore();
  reg.proxy.addFault({ path: /\/manifests\//, method: 'GET', nth: 1, fault: { kind: 'respond', status: 429, headers: { 'Retry-After': '1' } } });
  reg.proxy.addFault({ path: /\/blobs\//, method: 'GET', times: 3, fault: { kind: 'respond', status: 503 } });
  const started = Date.now();
  try {
    const r = await pull(store, 'test/gz:v1');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), gz.manifestDigest);
  } finally {
    reg.proxy.clearFaults();
  }
  assert.ok(Date.now() - started >= 900, 'Retry-After was honoured');
});

test('a corrupted byte fails with E_DIGEST_MISMATCH and leaves nothing corrupt in the store', async () => {
  const store = await newStore();
  const layer = gz.layers[1].digest;
  reg.proxy.addFault({ path: blobPath(layer), method: 'GET', fault: { kind: 'flip-byte', offset: 100 } });
  let r;
  try {
    r = await pull(store, 'test/gz:v1');
  } finally {
    reg.proxy.clearFaults();
  }
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /E_DIGEST_MISMATCH/);
  await assert.rejects(readFile(join(store, 'blobs', 'sha256', layer.slice(7))));
  assert.deepEqual(await partials(store), []);
  assert.equal((await runCli(['verify', '--store', store])).code, 0);
  assert.equal((await pull(store, 'test/gz:v1')).code, 0, 'the next pull succeeds');
});

test('--registries-conf: a mirror serves a registry that does not exist', async () => {
  const store = await newStore();
  const conf = join(work, 'registries.conf');
  await writeFile(
    conf,
    `[[registry]]\nlocation = "mirrored.invalid/test"\n\n[[registry.mirror]]\nlocation = "${reg.host}/test"\ninsecure = true\n`,
  );
  reg.proxy.resetCounts();
  const r = await runCli(['pull', '--store', store, '--registries-conf', conf, 'docker://mirrored.invalid/test/gz:v1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), gz.manifestDigest);
  assert.ok(reg.proxy.count(/\/v2\/test\/gz\/manifests\/v1$/, 'GET') >= 1, 'fetched through the mirror');
  const list = JSON.parse((await runCli(['images', '--json', '--store', store])).stdout);
  assert.equal(list.images[0].reference, 'docker://mirrored.invalid/test/gz:v1');
});

test('E_NOT_FOUND for a missing tag', async () => {
  const store = await newStore();
  const r = await pull(store, 'test/gz:nope');
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /E_NOT_FOUND/);
});
