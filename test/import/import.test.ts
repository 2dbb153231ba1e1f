/**
 * `oci2fs import` end to end: a real docker-registry on loopback, images
 * built by the test, outputs checked by independent tools (unsquashfs,
 * GNU tar, e2fsck, fsverity), and the conversion cache observed through the
 * registry's request counts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { buildImage, busyboxRoot } from '../harness/image-builder.js';
import { pushLayout } from '../harness/push.js';
import { runCli, tool } from './cli.js';

let reg: TestRegistry;
let work: string;
let layerBlobs: string[] = [];

before(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'oci2fs-import-'));
  const layout = join(work, 'layout');
  const big = Buffer.alloc(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  const img = await buildImage(
    {
      layers: [
        {
          files: { ...busyboxRoot(), usr: { type: 'dir' } },
        },
        {
          compression: 'zstd',
          files: {
            'usr/big.bin': big,
            'usr/big-link': { type: 'hardlink', target: 'usr/big.bin' },
            'etc/.wh.motd': '',
          },
        },
      ],
      config: { Env: ['PATH=/bin:/usr/bin', 'LANG=C.UTF-8'], Cmd: ['/bin/sh', '-c', 'echo hi'], WorkingDir: '/usr' },
    },
    layout,
  );
  layerBlobs = img.layers.map((l) => l.digest);
  await pushLayout(layout, reg.host, 'test/app', 'v1');
  await pushLayout(layout, reg.host, 'test/other', 'renamed');
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function common(store: string): string[] {
  return ['--store', store, '--insecure-registry', reg.host];
}

function layerGets(): number {
  return layerBlobs.reduce((n, d) => n + reg.proxy.count(new RegExp(`/blobs/${d}$`), 'GET'), 0);
}

test('import to squashfs: unsquashfs lists the flattened tree with setuid bit, symlink, hardlink and provenance', async () => {
  const store = join(work, 'store-sq');
  const out = join(work, 'app.sqsh');
  const r = await runCli(['import', ...common(store), `${reg.host}/test/app:v1`, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), out);
  const list = (await tool('unsquashfs', ['-lln', '-d', '', out])).toString();
  assert.match(list, /^-rwsr-xr-x 0\/0 +12 .* \/bin\/busybox$/m);
  assert.match(list, /^lrwxrwxrwx 0\/0 .* \/bin\/sh -> busybox$/m);
  assert.match(list, /\/usr\/big\.bin$/m);
  assert.match(list, /\/usr\/big-link$/m);
  assert.doesNotMatch(list, /\/etc\/motd/, 'the whiteout in layer 2 removes etc/motd');
  const source = (await tool('unsquashfs', ['-cat', out, '.enroot/source'])).toString();
  const lines = source.trim().split('\n');
  assert.equal(lines[0], `uri=docker://${reg.host}#test/app:v1`);
  assert.ok(lines.some((l) => /^manifest-digest=sha256:[0-9a-f]{64}$/.test(l)), source);
  const big = await tool('unsquashfs', ['-cat', out, 'usr/big.bin']);
  assert.equal(big.length, 300_000);
  assert.equal(big[1234], (1234 * 7919) % 251);
});

test('repeat import is a cache hit: no layer is downloaded again and the bytes are identical', async () => {
  const store = join(work, 'store-cache');
  const a = join(work, 'a.sqsh');
  const b = join(work, 'b.sqsh');
  assert.equal((await runCli(['import', ...common(store), `${reg.host}/test/app:v1`, '-o', a])).code, 0);
  const before = layerGets();
  const r = await runCli(['import', ...common(store), '--json', `${reg.host}/test/app:v1`, '-o', b]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).cached, true);
  assert.equal(layerGets(), before, 'no layer GET on a cache hit');
  assert.deepEqual(await readFile(a), await readFile(b));
});

test('a fresh build writes the output together with its cached artifact: same bytes, a writable file of its own, no temp names left', async () => {
  const store = join(work, 'store-mirror');
  for (const ext of ['sqsh', 'ext4', 'tar']) {
    const out = join(work, `mirror.${ext}`);
    const r = await runCli(['import', ...common(store), '--json', `${reg.host}/test/app:v1`, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    const { cached, key } = JSON.parse(r.stdout) as { cached: boolean; key: string };
    assert.equal(cached, false, ext);
    const artifactDir = join(store, 'artifacts', key);
    const artifact = join(artifactDir, (await readdir(artifactDir)).find((n) => n.startsWith('image')) as string);
    assert.deepEqual(await readFile(out), await readFile(artifact), `${ext}: the output equals the artifact`);
    const [o, a] = [await stat(out), await stat(artifact)];
    assert.notEqual(o.ino, a.ino, `${ext}: a copy, not the cache's file`);
    assert.equal(o.mode & 0o777, 0o644, ext);
    assert.equal(a.mode & 0o777, 0o444, ext);
    assert.deepEqual((await readdir(work)).filter((n) => n.includes('.oci2fs-')), [], `${ext}: no temp name left beside the output`);
  }
  // --link on a fresh build: the read-only cache file itself, no copy
  const linked = join(work, 'mirror-link.sqsh');
  const l = await runCli(['import', ...common(join(work, 'store-mirror-link')), '--json', '--link', `${reg.host}/test/app:v1`, '-o', linked]);
  assert.equal(l.code, 0, l.stderr);
  const lk = (JSON.parse(l.stdout) as { key: string }).key;
  assert.equal((await stat(linked)).ino, (await stat(join(work, 'store-mirror-link', 'artifacts', lk, 'image'))).ino);
});

test('re-tag under another name hits the cache when provenance is off', async () => {
  const store = join(work, 'store-retag');
  const a = await runCli(['import', ...common(store), '--json', '--no-provenance', `${reg.host}/test/app:v1`, '-o', join(work, 'r1.sqsh')]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(JSON.parse(a.stdout).cached, false);
  // a build reports its compression CPU time (a measurement of this run, not cached with the
  // artifact); the threads' CPU clocks advance in scheduler ticks, which this tiny image may not fill
  const built = JSON.parse(a.stdout).stats?.['compress-seconds'];
  assert.ok(typeof built === 'number' && built >= 0, `compress-seconds of a build: ${built}`);
  const b = await runCli(['import', ...common(store), '--json', '--no-provenance', `${reg.host}/test/other:renamed`, '-o', join(work, 'r2.sqsh')]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(JSON.parse(b.stdout).cached, true);
  assert.equal(JSON.parse(b.stdout).stats, undefined, 'a cache hit compressed nothing');
  // with provenance the record names the other reference, so it is another artifact
  const c = await runCli(['import', ...common(store), '--json', `${reg.host}/test/other:renamed`, '-o', join(work, 'r3.sqsh')]);
  assert.equal(JSON.parse(c.stdout).cached, false);
});

test('two imports into two fresh stores give byte-identical squashfs, tar and ext4', async () => {
  for (const ext of ['sqsh', 'tar', 'ext4']) {
    const outs = [];
    for (const n of [1, 2]) {
      const out = join(work, `det${n}.${ext}`);
      const r = await runCli(['import', ...common(join(work, `store-det-${ext}-${n}`)), `${reg.host}/test/app:v1`, '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      outs.push(await readFile(out));
    }
    assert.ok(outs[0].equals(outs[1]), `${ext} outputs differ`);
  }
});

test('concurrent imports of one image: one build, one download per layer, everyone succeeds', async () => {
  const store = join(work, 'store-conc');
  const before = layerGets();
  const results = await Promise.all(
    [1, 2, 3, 4].map((n) => runCli(['import', ...common(store), '--json', `${reg.host}/test/app:v1`, '-o', join(work, `c${n}.sqsh`)])),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const built = results.filter((r) => JSON.parse(r.stdout).cached === false).length;
  assert.equal(built, 1, 'exactly one process builds');
  assert.equal(layerGets() - before, layerBlobs.length, 'each layer downloaded once');
  const files = await Promise.all([1, 2, 3, 4].map((n) => readFile(join(work, `c${n}.sqsh`))));
  for (const f of files) assert.ok(f.equals(files[0]));
});

test('--enroot adds /etc/environment and /etc/rc from the image config', async () => {
  const out = join(work, 'enroot.tar');
  const r = await runCli(['import', ...common(join(work, 'store-enroot')), '--enroot', `${reg.host}/test/app:v1`, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const env = (await tool('tar', ['-xOf', out, 'etc/environment'])).toString();
  assert.match(env, /^PATH=\/bin:\/usr\/bin$/m);
  assert.match(env, /^LANG=C\.UTF-8$/m);
  const rc = (await tool('tar', ['-xOf', out, 'etc/rc'])).toString();
  assert.match(rc, /cd "\/usr"/);
  assert.match(rc, /echo hi/);
});

test('default output name follows enroot: repo+name+tag.sqsh in the current directory', async () => {
  const cwd = await mkdtemp(join(work, 'cwd-'));
  const r = await runCli(['import', ...common(join(work, 'store-name')), `docker://${reg.host}#test/app:v1`], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readdir(cwd), ['test+app+v1.sqsh']);
});

test('ext4 output passes e2fsck -fn and keeps the setuid owner and mode', async () => {
  const out = join(work, 'root.ext4');
  const r = await runCli(['import', ...common(join(work, 'store-ext4')), `${reg.host}/test/app:v1`, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  await tool('e2fsck', ['-fn', out]);
  const st = (await tool('debugfs', ['-R', 'stat /bin/busybox', out])).toString();
  assert.match(st, /Mode:\s+04755/);
  assert.match(st, /User:\s+0\s+Group:\s+0/);
});

test('composefs import prints the image digest that `fsverity digest` computes', async () => {
  const out = join(work, 'img.cfs');
  const objects = join(work, 'objects');
  const r = await runCli(['import', ...common(join(work, 'store-cfs')), '--format', 'composefs', '--objects', objects, `${reg.host}/test/app:v1`, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const [path, digest] = r.stdout.trim().split('\n');
  assert.equal(path, out);
  const ref = (await tool('fsverity', ['digest', '--hash-alg=sha256', '--block-size=4096', out])).toString();
  assert.equal(ref.split(' ')[0], `sha256:${digest}`);
  assert.ok((await readdir(objects)).length > 0, 'objects written');
});

test('a corrupted layer fails with E_DIGEST_MISMATCH and leaves no output file', async () => {
  reg.proxy.addFault({ path: new RegExp(`/blobs/${layerBlobs[1]}$`), times: 20, fault: { kind: 'flip-byte', offset: 10 } });
  try {
    const out = join(work, 'bad.sqsh');
    const r = await runCli(['import', ...common(join(work, 'store-bad')), `${reg.host}/test/app:v1`, '-o', out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /E_DIGEST_MISMATCH/);
    await assert.rejects(stat(out));
    assert.deepEqual((await readdir(work)).filter((n) => n.includes('bad.sqsh')), []);
  } finally {
    reg.proxy.clearFaults();
  }
});

test('an output directory that cannot be made fails with E_IO at once (node 20 mkdir -p looped forever under /proc)', { timeout: 60_000 }, async () => {
  for (const extra of [['--no-cache'], []]) {
    const r = await runCli(['import', ...common(join(work, 'store-proc')), ...extra, `${reg.host}/test/app:v1`, '-o', '/proc/oci2fs-none/x.sqsh']);
    assert.equal(r.code, 10, r.stderr);
    assert.match(r.stderr, /E_IO: Cannot create the directory of \/proc\/oci2fs-none\/x\.sqsh/);
  }
});

test('a bad reference exits with the usage status and the E_REFERENCE_INVALID code', async () => {
  const r = await runCli(['import', '--store', join(work, 'store-x'), 'UPPER/Case:tag', '-o', join(work, 'x.sqsh')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /E_REFERENCE_INVALID/);
});

test('images lists the imported image and its cached conversion with import and last-use times', async () => {
  const store = join(work, 'store-images');
  const r = await runCli(['import', ...common(store), `${reg.host}/test/app:v1`, '-o', join(work, 'img-list.sqsh')]);
  assert.equal(r.code, 0, r.stderr);
  const list = await runCli(['images', '--store', store, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const doc = JSON.parse(list.stdout);
  assert.equal(doc.images.length, 1);
  assert.equal(doc.images[0].reference, `docker://${reg.host}/test/app:v1`);
  assert.equal(doc.conversions.length, 1);
  const c = doc.conversions[0];
  assert.equal(c.format, 'squashfs');
  assert.match(c.imported, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(c.configDigest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(c.manifestDigest, doc.images[0].manifestDigest);
});
