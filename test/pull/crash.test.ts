/**
 * Robustness of the store under real processes: `kill -9` in the middle of a
 * blob, then a second pull that must complete without re-fetching complete
 * blobs and must resume the partial one with Range; and six `oci2fs pull`
 * processes of one image into one store at once: each blob downloaded once,
 * all succeed, the store verifies.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { buildImage, makeRandomFile, type BuiltImage } from '../harness/image-builder.js';
import { pushLayout } from '../harness/push.js';
import { runCli, startCli } from './cli.js';
import { startThrottle, type Throttle } from './throttle.js';

let reg: TestRegistry;
let slow: Throttle;
let work: string;
let img: BuiltImage;

/** The big layer's file size and the throttled rate: the blob takes ~4 s. */
const BIG_FILE = 4 << 20;
const RATE = 1 << 20;

before(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'oci2fs-pull-crash-'));
  await makeRandomFile(join(work, 'random.bin'), BIG_FILE, 7);
  const { readFile } = await import('node:fs/promises');
  img = await buildImage(
    {
      layers: [
        { files: { a: 'first\n' } },
        { files: { 'big.bin': await readFile(join(work, 'random.bin')) }, compression: 'none' },
        { files: { c: 'third\n' }, compression: 'zstd' },
      ],
    },
    join(work, 'img'),
  );
  await pushLayout(join(work, 'img'), reg.host, 'test/crash', 'v1');
  slow = await startThrottle(reg.host, RATE);
});

after(async () => {
  await slow?.stop();
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function partialSize(store: string, digest: string): Promise<number> {
  try {
    return (await stat(join(store, 'tmp', `sha256-${digest.slice(7)}.partial`))).size;
  } catch {
    return 0;
  }
}

test('kill -9 mid-blob, then pull again: complete blobs are not re-fetched, the partial one resumes with Range', async () => {
  const store = join(work, 'store-kill');
  const big = img.layers[1].digest;
  slow.setRate(RATE);
  const ref = `docker://${slow.host}/test/crash:v1`;
  const first = startCli(['pull', '--store', store, '--insecure-registry', slow.host, ref]);
  const deadline = Date.now() + 20_000;
  while ((await partialSize(store, big)) < 1 << 20) {
    assert.ok(Date.now() < deadline, 'the big blob never started');
    await sleep(50);
  }
  first.child.kill('SIGKILL');
  const r1 = await first.done;
  assert.equal(r1.signal, 'SIGKILL');
  const kept = await partialSize(store, big);
  assert.ok(kept > 0 && kept < img.layers[1].size, `a partial was left (${kept} bytes)`);
  const complete = [img.configDigest, img.layers[0].digest, img.layers[2].digest];
  for (const d of complete) await stat(join(store, 'blobs', 'sha256', d.slice(7)));

  reg.proxy.resetCounts();
  slow.setRate(Infinity);
  const r2 = await runCli(['pull', '--store', store, '--insecure-registry', slow.host, ref]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stdout.trim(), img.manifestDigest);
  for (const d of complete) assert.equal(reg.proxy.count(new RegExp(`/blobs/${d}$`), 'GET'), 0, `${d} was fetched again`);
  const gets = reg.proxy.requests.filter((q) => q.method === 'GET' && q.path.endsWith(big));
  assert.equal(gets.length, 1, JSON.stringify(gets));
  const m = /^bytes=(\d+)-$/.exec(gets[0].range ?? '');
  assert.ok(m && Number(m[1]) >= kept, `resumed with Range from the partial: ${gets[0].range}`);
  assert.equal((await runCli(['verify', '--store', store])).code, 0);
  assert.deepEqual((await readdir(join(store, 'tmp'))).filter((n) => n.endsWith('.partial')), []);
  // skopeo agrees the image is whole.
  execFileSync('skopeo', ['inspect', `oci:${store}:${slow.host}/test/crash:v1`], { stdio: 'ignore' });
});

test('six concurrent pulls of one image into one store: one download per blob, all succeed', async () => {
  const store = join(work, 'store-six');
  slow.setRate(8 << 20);
  reg.proxy.resetCounts();
  const ref = `docker://${slow.host}/test/crash:v1`;
  const runs = Array.from({ length: 6 }, () => runCli(['pull', '--store', store, '--insecure-registry', slow.host, ref]));
  const results = await Promise.all(runs);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), img.manifestDigest);
  }
  for (const d of [img.configDigest, ...img.layers.map((l) => l.digest)]) {
    assert.equal(reg.proxy.count(new RegExp(`/blobs/${d}$`), 'GET'), 1, `${d} downloaded once`);
  }
  const v = await runCli(['verify', '--json', '--store', store]);
  assert.equal(v.code, 0, v.stdout);
  assert.equal(JSON.parse(v.stdout).ok, 5);
  const index = JSON.parse(execFileSync('cat', [join(store, 'index.json')], { encoding: 'utf8' }));
  assert.equal(index.manifests.length, 1);
  assert.deepEqual((await readdir(join(store, 'locks'))).filter((n) => !n.startsWith('.')), [], 'no locks left');
});
