/**
 * Pulling from local sources (oci:, oci-archive:, docker-archive:) through
 * the CLI, checked with skopeo and umoci as independent readers/writers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, buildIndex, type BuiltImage } from '../harness/image-builder.js';
import { CLI, runCli } from './cli.js';

let work: string;
let single: string; // oci layout with one image (gzip + zstd layers)
let multi: string; // oci layout with an amd64/arm64 index
let gz: string; // oci layout with two gzip layers (Docker archives cannot hold zstd)
let img: BuiltImage;
let gzImg: BuiltImage;
let amd: BuiltImage;
let arm: BuiltImage;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'oci2fs-pull-local-'));
  single = join(work, 'single');
  img = await buildImage(
    {
      layers: [
        { files: { 'etc/hostname': 'box\n', bin: { type: 'dir' } }, compression: 'gzip' },
        { files: { 'bin/tool': { type: 'file', content: 'x'.repeat(5000), mode: 0o755 } }, compression: 'zstd' },
      ],
      config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['/bin/sh'], WorkingDir: '/w', Labels: { l: 'v' } },
    },
    single,
  );
  gz = join(work, 'gz');
  gzImg = await buildImage(
    { layers: [{ files: { a: 'a\n' } }, { files: { b: 'b'.repeat(3000) } }], config: { Env: ['X=1'] }, format: 'docker' },
    gz,
  );
  multi = join(work, 'multi');
  amd = await buildImage({ layers: [{ files: { arch: 'amd64\n' } }], platform: { os: 'linux', architecture: 'amd64' } }, multi);
  arm = await buildImage({ layers: [{ files: { arch: 'arm64\n' } }], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, multi);
  await buildIndex([amd, arm], multi);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function newStore(): Promise<string> {
  return mkdtemp(join(work, 'store-'));
}

test('pull oci:DIR prints the manifest digest, stores verified blobs, and skopeo/umoci read the store', async () => {
  const store = await newStore();
  const r = await runCli(['pull', '--store', store, `oci:${single}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, img.manifestDigest + '\n');
  assert.equal(r.stderr, '', 'no progress when stderr is not a TTY');
  for (const d of [img.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)]) {
    const bytes = await readFile(join(store, 'blobs', 'sha256', d.slice(7)));
    assert.ok(bytes.length > 0);
  }
  const index = JSON.parse(await readFile(join(store, 'index.json'), 'utf8'));
  assert.equal(index.manifests.length, 1);
  const name = index.manifests[0].annotations['org.opencontainers.image.ref.name'];
  const raw = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${store}:${name}`], { encoding: 'utf8' }));
  assert.equal(raw.config.digest, img.configDigest);
  const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${store}:${name}`], { encoding: 'utf8' }));
  assert.deepEqual(inspected.Layers, img.layers.map((l) => l.digest));
  assert.match(execFileSync('umoci', ['ls', '--layout', store], { encoding: 'utf8' }), new RegExp(name.split('/').pop()!.replace(/[-.]/g, '.')));
  const v = await runCli(['verify', '--store', store]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^4 blobs ok, 0 problems/m);
});

test('on a terminal, pull draws progress (per blob and a total); --quiet draws none', async (t) => {
  const store = await newStore();
  const cmd = (extra: string) => `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} pull ${extra} --store ${JSON.stringify(store)} oci:${JSON.stringify(single)}`;
  let out: string;
  try {
    // script(1) runs the command on a pseudo-terminal, so stderr.isTTY is true.
    out = execFileSync('script', ['-qec', cmd(''), '/dev/null'], { encoding: 'utf8' });
  } catch (e) {
    return t.skip(`script(1) unavailable: ${(e as Error).message}`);
  }
  assert.match(out, new RegExp(img.layers[0].digest.slice(7, 19)));
  assert.match(out, /total +[\d.]+ (B|KiB) +done/);
  assert.match(out, new RegExp(img.manifestDigest));
  const quiet = execFileSync('script', ['-qec', cmd('--quiet'), '/dev/null'], { encoding: 'utf8' });
  assert.equal(quiet.replace(/\r/g, '').trim(), img.manifestDigest);
});

test('pull --json gives reference, digests, platform and layers', async () => {
  const store = await newStore();
  const r = await runCli(['pull', '--json', '--store', store, `oci:${single}`]);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.reference, `oci:${single}`);
  assert.equal(o.manifestDigest, img.manifestDigest);
  assert.equal(o.configDigest, img.configDigest);
  assert.equal(o.platform, 'linux/amd64');
  assert.deepEqual(o.layers.map((l: { mediaType: string }) => l.mediaType), img.layers.map((l) => l.mediaType));
});

test('--platform selects from an index; a missing platform fails with E_PLATFORM_NOT_FOUND listing what exists', async () => {
  const store = await newStore();
  const a = await runCli(['pull', '--store', store, '--platform', 'linux/arm64', `oci:${multi}`]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout.trim(), arm.manifestDigest);
  const b = await runCli(['digest', '--store', store, '--platform', 'linux/amd64', `oci:${multi}`]);
  assert.equal(b.stdout.trim(), amd.manifestDigest);
  const idx = JSON.parse(await readFile(join(multi, 'index.json'), 'utf8')).manifests[0].digest;
  const c = await runCli(['digest', '--index', '--store', store, `oci:${multi}`]);
  assert.equal(c.stdout.trim(), idx);
  const d = await runCli(['pull', '--store', store, '--platform', 'linux/s390x', `oci:${multi}`]);
  assert.equal(d.code, 4);
  assert.match(d.stderr, /E_PLATFORM_NOT_FOUND/);
  assert.match(d.stderr, /linux\/amd64, linux\/arm64\/v8/);
});

test('a single-platform image asked for with another --platform fails with E_PLATFORM_NOT_FOUND', async () => {
  const store = await newStore();
  const r = await runCli(['pull', '--store', store, '--platform', 'linux/arm64', `oci:${single}`]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /E_PLATFORM_NOT_FOUND.*single-platform image for linux\/amd64/);
});

test('inspect shows config, platforms and layers without fetching layers', async () => {
  const store = await newStore();
  const r = await runCli(['inspect', '--store', store, `oci:${single}`]);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.deepEqual(o.config.env, ['PATH=/bin', 'A=1']);
  assert.deepEqual(o.config.cmd, ['/bin/sh']);
  assert.equal(o.config.workingDir, '/w');
  assert.deepEqual(o.config.labels, { l: 'v' });
  assert.deepEqual(o.layers.map((l: { size: number }) => l.size), img.layers.map((l) => l.size));
  assert.deepEqual(o.layers.map((l: { diffId: string }) => l.diffId), img.layers.map((l) => l.diffId));
  await assert.rejects(readFile(join(store, 'blobs', 'sha256', img.layers[0].digest.slice(7))));
  const m = await runCli(['inspect', '--store', store, `oci:${multi}`]);
  assert.deepEqual(JSON.parse(m.stdout).platforms, ['linux/amd64', 'linux/arm64/v8']);
});

test('oci-archive made by skopeo pulls to the same digests', async () => {
  const store = await newStore();
  const archive = join(work, 'img.oci.tar');
  execFileSync('skopeo', ['copy', '-q', `oci:${single}`, `oci-archive:${archive}:v1`]);
  const r = await runCli(['pull', '--store', store, `oci-archive:${archive}:v1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), img.manifestDigest);
  const missing = await runCli(['pull', '--store', store, `oci-archive:${archive}:nope`]);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /has no image named "nope"; it has: v1/);
});

test('docker-archive made by skopeo: uncompressed layers whose digests are the diff_ids', async () => {
  const store = await newStore();
  const archive = join(work, 'img.docker.tar');
  execFileSync('skopeo', ['copy', '-q', `oci:${gz}`, `docker-archive:${archive}:example.com/test/img:v1`]);
  const r = await runCli(['pull', '--json', '--store', store, `docker-archive:${archive}`]);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.deepEqual(o.layers.map((l: { digest: string }) => l.digest), gzImg.layers.map((l) => l.diffId));
  assert.deepEqual(o.layers.map((l: { mediaType: string }) => l.mediaType), gzImg.layers.map(() => 'application/vnd.oci.image.layer.v1.tar'));
  const inspected = JSON.parse((await runCli(['inspect', '--store', store, `docker-archive:${archive}`])).stdout);
  assert.deepEqual(inspected.config.env, ['X=1']);
  const byTag = await runCli(['digest', '--store', store, `docker-archive:${archive}:example.com/test/img:v1`]);
  assert.equal(byTag.stdout.trim(), o.manifestDigest);
  const byIndex = await runCli(['digest', '--store', store, `docker-archive:${archive}:@0`]);
  assert.equal(byIndex.stdout.trim(), o.manifestDigest, byIndex.stderr);
  const noTag = await runCli(['digest', '--store', store, `docker-archive:${archive}:example.com/other:v1`]);
  assert.equal(noTag.code, 4);
  assert.match(noTag.stderr, /no image tagged example.com\/other:v1; it has: example.com\/test\/img:v1/);
  // The synthesized image is a valid OCI image for skopeo.
  const index = JSON.parse(await readFile(join(store, 'index.json'), 'utf8'));
  const name = index.manifests[0].annotations['org.opencontainers.image.ref.name'];
  const out = join(work, 'roundtrip');
  execFileSync('skopeo', ['copy', '-q', `oci:${store}:${name}`, `oci:${out}:x`]);
  assert.equal(await runCli(['verify', '--store', store]).then((v) => v.code), 0);
});

test('docker-archive with gzip layers (as some tools write): media type detected, digests are the blobs', async () => {
  const store = await newStore();
  const dir = await mkdtemp(join(work, 'da-'));
  const blob = (d: string) => join(gz, 'blobs', 'sha256', d.slice(7));
  execFileSync('cp', [blob(gzImg.configDigest), join(dir, 'config.json')]);
  gzImg.layers.forEach((l, i) => execFileSync('cp', [blob(l.digest), join(dir, `layer${i}.tar.gz`)]));
  await writeFile(
    join(dir, 'manifest.json'),
    JSON.stringify([{ Config: 'config.json', RepoTags: ['x/y:1'], Layers: gzImg.layers.map((_, i) => `layer${i}.tar.gz`) }]),
  );
  const archive = join(work, 'gzip-layers.docker.tar');
  execFileSync('tar', ['-C', dir, '-cf', archive, 'manifest.json', 'config.json', ...gzImg.layers.map((_, i) => `layer${i}.tar.gz`)]);
  const r = await runCli(['pull', '--json', '--store', store, `docker-archive:${archive}:x/y:1`]);
  assert.equal(r.code, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  assert.equal(o.configDigest, gzImg.configDigest);
  assert.deepEqual(o.layers.map((l: { digest: string }) => l.digest), gzImg.layers.map((l) => l.digest));
  assert.deepEqual(o.layers.map((l: { mediaType: string }) => l.mediaType), gzImg.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+gzip'));
  assert.equal((await runCli(['verify', '--store', store])).code, 0);
});

test('--offline uses only the store; images lists what was pulled', async () => {
  const store = await newStore();
  const off = await runCli(['pull', '--offline', '--store', store, `oci:${single}`]);
  assert.equal(off.code, 4, 'nothing in the store yet');
  assert.match(off.stderr, /not in the store/);
  assert.equal((await runCli(['pull', '--store', store, '--platform', 'linux/arm64', `oci:${multi}`])).code, 0);
  // The layout may vanish: offline still resolves from the store.
  const d = await runCli(['digest', '--offline', '--store', store, '--platform', 'linux/arm64', `oci:${multi}`]);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout.trim(), arm.manifestDigest);
  const other = await runCli(['pull', '--offline', '--store', store, '--platform', 'linux/amd64', `oci:${multi}`]);
  assert.equal(other.code, 4, 'amd64 was never pulled');
  const list = JSON.parse((await runCli(['images', '--json', '--store', store])).stdout);
  assert.equal(list.images.length, 1);
  assert.equal(list.images[0].reference, `oci:${multi}`);
  assert.equal(list.images[0].platform, 'linux/arm64/v8');
  assert.equal(list.images[0].manifestDigest, arm.manifestDigest);
  assert.match(list.images[0].pulledAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const text = (await runCli(['images', '--store', store])).stdout;
  assert.match(text, /^IMAGES\nREFERENCE +PLATFORM +DIGEST +SIZE +PULLED\n/);
});

test('a read-only store (e.g. shared on a cluster) serves --offline pulls', async (t) => {
  const store = await newStore();
  assert.equal((await runCli(['pull', '--store', store, `oci:${single}`])).code, 0);
  const ro = await mkdtemp(join(work, 'ro-'));
  try {
    execFileSync('mount', ['--bind', store, ro], { stdio: 'ignore' });
    execFileSync('mount', ['-o', 'remount,bind,ro', ro], { stdio: 'ignore' });
  } catch {
    await rm(ro, { recursive: true, force: true });
    return t.skip('cannot make a read-only bind mount here');
  }
  try {
    const r = await runCli(['pull', '--offline', '--store', ro, `oci:${single}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), img.manifestDigest);
    assert.equal((await runCli(['images', '--store', ro])).code, 0);
  } finally {
    execFileSync('umount', [ro]);
    await rm(ro, { recursive: true, force: true });
  }
});

test('verify detects a corrupted blob and exits 8', async () => {
  const store = await newStore();
  assert.equal((await runCli(['pull', '--store', store, `oci:${single}`])).code, 0);
  const p = join(store, 'blobs', 'sha256', img.layers[1].digest.slice(7));
  const bytes = await readFile(p);
  bytes[bytes.length >> 1] ^= 0x55;
  await writeFile(p, bytes);
  const v = await runCli(['verify', '--store', store]);
  assert.equal(v.code, 8);
  assert.match(v.stdout, new RegExp(`BAD ${img.layers[1].digest}: content hashes to`));
  assert.match(v.stderr, /E_STORE/);
  // A pull repairs nothing by itself while the file has the right size, but verify --repair + pull do.
  assert.equal((await runCli(['verify', '--repair', '--store', store])).code, 8);
  assert.equal((await runCli(['pull', '--store', store, `oci:${single}`])).code, 0);
  assert.equal((await runCli(['verify', '--store', store])).code, 0);
});

test('a repeat pull of an unchanged image leaves index.json untouched; a moved name rewrites it', async () => {
  const store = await newStore();
  const index = join(store, 'index.json');
  assert.equal((await runCli(['pull', '--store', store, `oci:${single}`])).code, 0);
  const first = await stat(index);
  const bytes = await readFile(index);
  assert.equal((await runCli(['pull', '--store', store, `oci:${single}`])).code, 0);
  const again = await stat(index);
  assert.equal(again.ino, first.ino, 'not replaced by a rename');
  assert.equal(again.mtimeMs, first.mtimeMs);
  assert.deepEqual(await readFile(index), bytes);
  // Same name, other manifest (another platform of an index under one layout name is a new entry).
  assert.equal((await runCli(['pull', '--store', store, '--platform', 'linux/arm64', `oci:${multi}`])).code, 0);
  assert.notEqual((await stat(index)).ino, first.ino, 'a new entry rewrites index.json');
  const list = JSON.parse((await runCli(['images', '--json', '--store', store])).stdout);
  assert.equal(list.images.length, 2);
});
