/**
 * The public library API, used only through './index.js' as an embedder
 * would: references, store, pull, convert (tar, squashfs), cache gc,
 * fs-verity, errors by code, progress events, and silence. Outputs are
 * checked with independent tools: GNU tar, unsquashfs, skopeo, fsverity.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildImage, busyboxRoot, makeRandomFile, type BuiltImage } from '../test/harness/image-builder.js';
import {
  convert,
  gcCache,
  parseReference,
  formatReference,
  isValidReference,
  pullImage,
  Store,
  Oci2fsError,
  ErrorCode,
  isOci2fsError,
  fsverityDigestFile,
  fsverityDigestStream,
  formatFsverityLine,
  type ProgressEvent,
} from './index.js';

const run = promisify(execFile);

/** stdout of an independent tool (throws with its stderr when it fails). */
async function tool(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { maxBuffer: 16 << 20 });
  return stdout;
}

let work: string;
let layout: string;
let image: BuiltImage;
/** The test image as an oci: reference. */
let ref: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'oci2fs-api-'));
  layout = join(work, 'layout');
  image = await buildImage(
    {
      layers: [
        {
          files: busyboxRoot(),
        },
        { compression: 'zstd', files: { 'etc/.wh.motd': '', 'etc/os-release': 'ID=test\n' } },
      ],
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
    },
    layout,
  );
  ref = `oci:${layout}:latest`;
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('the runtime surface is exactly the documented one (a change here is an API change: update docs/library.md)', async () => {
  const api = await import('./index.js');
  assert.deepEqual(Object.keys(api).sort(), [
    'CONVERT_DEFAULTS', 'DEFAULT_EXTENSION', 'ErrorCode', 'FORMATS', 'FSVERITY_DEFAULT_BLOCK_SIZE', 'Oci2fsError', 'Store',
    'TRANSPORTS', 'convert', 'defaultStoreDir', 'enrootFileName', 'fetchLayers', 'formatFromPath', 'formatFsverityLine',
    'formatPlatform', 'formatReference', 'fsverityDigestFile', 'fsverityDigestStream', 'gcCache', 'hostPlatform',
    'importImage', 'isOci2fsError', 'isValidReference', 'parseAddSpec', 'parseFormat', 'parsePlatform', 'parseReference',
    'pullImage', 'resolveImage',
  ]);
  const doc = await readFile(new URL('../../docs/library.md', import.meta.url), 'utf8');
  for (const name of Object.keys(api)) assert.ok(doc.includes(name), `docs/library.md mentions ${name}`);
});

test('references parse and format canonically, without the enroot user', () => {
  assert.equal(formatReference(parseReference('alpine')), 'docker://docker.io/library/alpine:latest');
  const enroot = parseReference('docker://alice@nvcr.io#nvidia/pytorch:25.06-py3');
  assert.equal(enroot.transport, 'docker');
  const canonical = formatReference(enroot);
  assert.equal(canonical, 'docker://nvcr.io/nvidia/pytorch:25.06-py3');
  assert.doesNotMatch(canonical, /alice/);
  const local = parseReference(ref);
  assert.deepEqual(local, { transport: 'oci', path: layout, ref: 'latest' });
  assert.deepEqual(parseReference(formatReference(local)), local);
  assert.equal(isValidReference('foo::bar'), false);
  assert.equal(isValidReference('ghcr.io/o/i:t'), true);
});

test('an invalid reference throws Oci2fsError E_REFERENCE_INVALID, from parseReference and from convert', async () => {
  assert.throws(
    () => parseReference('foo::bar'),
    (e: unknown) => e instanceof Oci2fsError && e.code === 'E_REFERENCE_INVALID' && /foo::bar/.test(e.message),
  );
  await assert.rejects(
    convert('Not A Reference', { output: join(work, 'never.tar'), store: join(work, 'store-bad') }),
    (e: unknown) => isOci2fsError(e, ErrorCode.REFERENCE_INVALID),
  );
  await assert.rejects(
    convert(`oci:${join(work, 'no-such-layout')}`, { output: join(work, 'never.tar'), store: join(work, 'store-bad') }),
    (e: unknown) => isOci2fsError(e, ErrorCode.NOT_FOUND),
  );
});

test('Store.open creates an OCI image layout; pullImage records the image so skopeo reads it back', async () => {
  const dir = join(work, 'store-pull');
  const store = await Store.open(dir);
  assert.equal(store.root, dir);
  const marker = JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')) as { imageLayoutVersion: string };
  assert.equal(marker.imageLayoutVersion, '1.0.0');

  const events: ProgressEvent[] = [];
  const img = await pullImage(parseReference(ref), { store, events: (e) => events.push(e) });
  assert.equal(img.manifestDigest, image.manifestDigest);
  assert.equal(img.layerPaths.length, 2);
  for (const [i, p] of img.layerPaths.entries()) {
    const got = (await tool('sha256sum', [p])).split(' ')[0];
    assert.equal(`sha256:${got}`, image.layers[i].digest);
  }
  assert.ok(events.some((e) => e.type === 'manifest'), 'a manifest event');
  assert.equal(events.filter((e) => e.type === 'blob-done').length, 2 + 1, 'config and both layers');

  const refs = await store.listRefs();
  assert.equal(refs.length, 1);
  const name = refs[0].annotations?.['org.opencontainers.image.ref.name'];
  assert.ok(name, 'the stored image has a ref name');
  const raw = await run('skopeo', ['inspect', '--raw', `oci:${dir}:${name}`], { encoding: 'buffer' });
  assert.equal(`sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`, image.manifestDigest);
});

test('convert to squashfs with the CLI defaults: unsquashfs lists the flattened tree, zstd level 3, 128 KiB blocks', async () => {
  const store = await Store.open(join(work, 'store-sq'));
  const out = join(work, 'img.sqsh');
  const events: ProgressEvent[] = [];
  const r = await convert(ref, { output: out, store, events: (e) => events.push(e) });
  assert.equal(r.output, out);
  assert.equal(r.format, 'squashfs', 'format from the .sqsh extension');
  assert.equal(r.cached, false);
  assert.equal(r.manifestDigest, image.manifestDigest);
  assert.equal(r.configDigest, image.configDigest);

  const list = await tool('unsquashfs', ['-lln', '-d', '', out]);
  assert.match(list, /^-rwsr-xr-x 0\/0 +12 .* \/bin\/busybox$/m);
  assert.match(list, /^lrwxrwxrwx 0\/0 .* \/bin\/sh -> busybox$/m);
  assert.match(list, /^-rw-r--r-- 0\/0 +4 .* \/etc\/hostname$/m);
  assert.match(list, /^-rw-r--r-- 0\/0 .* \/etc\/os-release$/m);
  assert.match(list, /\/\.enroot\/source$/m, 'provenance on by default');
  assert.doesNotMatch(list, /motd/, 'the whiteout removed etc/motd');
  assert.equal(await tool('unsquashfs', ['-cat', out, '/etc/hostname']), 'box\n');
  assert.match(await tool('unsquashfs', ['-cat', out, '/.enroot/source']), new RegExp(layout));
  const sb = await tool('unsquashfs', ['-s', out]);
  assert.match(sb, /^Compression zstd$/m);
  assert.match(sb, /compression-level 3$/m);
  assert.match(sb, /^Block size 131072$/m);

  const types = new Set(events.map((e) => e.type));
  for (const t of ['manifest', 'blob-done', 'layer-start', 'cache-wait', 'write-progress'] as const) {
    assert.ok(types.has(t), `a ${t} event (got ${[...types].join(', ')})`);
  }

  // The same conversion again is served from the cache, byte for byte.
  const again = join(work, 'again.sqsh');
  const hits: ProgressEvent[] = [];
  const r2 = await convert(ref, { output: again, store, events: (e) => hits.push(e) });
  assert.equal(r2.cached, true);
  assert.equal(r2.key, r.key);
  assert.ok(hits.some((e) => e.type === 'cache-hit'));
  await run('cmp', [out, again]);
});

test('convert and `oci2fs import` share cache entries: the defaults are the same (squashfs, ext4, composefs)', async () => {
  const store = join(work, 'store-shared');
  const cli = new URL('./bin/oci2fs.js', import.meta.url).pathname;
  for (const ext of ['sqsh', 'ext4', 'cfs']) {
    const lib = await convert(ref, { output: join(work, `shared-lib.${ext}`), store });
    assert.equal(lib.cached, false, ext);
    const { stdout } = await run(process.execPath, [cli, 'import', '--store', store, '--json', ref, '-o', join(work, `shared-cli.${ext}`)]);
    const viaCli = JSON.parse(stdout) as { cached: boolean; key: string };
    assert.equal(viaCli.key, lib.key, `${ext}: same cache key`);
    assert.equal(viaCli.cached, true, `${ext}: the CLI reused the library's artifact`);
    await run('cmp', [join(work, `shared-lib.${ext}`), join(work, `shared-cli.${ext}`)]);
  }
});

test('convert to tar (explicit format, no provenance): GNU tar lists and extracts it', async () => {
  const out = join(work, 'rootfs.out');
  const r = await convert(parseReference(ref), { output: out, format: 'tar', provenance: false, store: join(work, 'store-tar') });
  assert.equal(r.format, 'tar');
  const list = await tool('tar', ['-tvf', out]);
  assert.match(list, /^-rwsr-xr-x 0\/0 +12 .* bin\/busybox$/m);
  assert.match(list, /^lrwxrwxrwx 0\/0 .* bin\/sh -> busybox$/m);
  assert.match(list, /^-rw-r--r-- 0\/0 +4 .* etc\/hostname$/m);
  assert.doesNotMatch(list, /motd|\.enroot/);
  assert.equal(await tool('tar', ['-xOf', out, 'etc/os-release']), 'ID=test\n');
});

test('gcCache removes artifacts last used before the cutoff, and only those', async () => {
  const store = await Store.open(join(work, 'store-gc'));
  await convert(ref, { output: join(work, 'gc.tar'), store });
  await convert(ref, { output: join(work, 'gc.sqsh'), store });
  const keys = async () => (await readdir(join(store.root, 'artifacts'))).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
  const before = await keys();
  assert.equal(before.length, 2);
  const none = await gcCache(store, { olderThan: new Date(Date.now() - 3600_000) });
  assert.deepEqual(none, { removed: [], freed: 0 });
  assert.deepEqual(await keys(), before);
  const all = await gcCache(store, { olderThan: new Date(Date.now() + 3600_000) });
  assert.deepEqual([...all.removed].sort(), before);
  assert.ok(all.freed > 0);
  assert.deepEqual(await keys(), []);
});

test('fs-verity digests equal `fsverity digest --hash-alg=sha256 --block-size=4096`', async () => {
  const files: [string, number][] = [
    ['empty', 0],
    ['one-block', 4096],
    ['two-levels', 600_000], // > 128 blocks: a two-level Merkle tree
  ];
  for (const [name, size] of files) {
    const p = join(work, name);
    await makeRandomFile(p, size, size + 1);
    const expected = (await tool('fsverity', ['digest', '--hash-alg=sha256', '--block-size=4096', p])).trim();
    const hex = await fsverityDigestFile(p);
    assert.equal(formatFsverityLine(hex, p), expected, name);
    assert.equal(await fsverityDigestStream(createReadStream(p)), hex, `${name} as a stream`);
  }
});

test('the library prints nothing: a whole session in a child process leaves stdout and stderr empty', async () => {
  const api = new URL('./index.js', import.meta.url).href;
  const script = join(work, 'session.mjs');
  const result = join(work, 'session.json');
  await writeFile(
    script,
    `import * as api from ${JSON.stringify(api)};
const [ref, dir, result] = process.argv.slice(2);
const store = await api.Store.open(dir + '/store-quiet');
const events = [];
const listener = (e) => events.push(e.type);
await api.pullImage(api.parseReference(ref), { store, events: listener });
const sq = await api.convert(ref, { output: dir + '/quiet.sqsh', store, events: listener });
const tar = await api.convert(ref, { output: dir + '/quiet.tar', store, events: listener, cache: false });
const hex = await api.fsverityDigestFile(dir + '/quiet.tar');
const gc = await api.gcCache(store, { olderThan: new Date(Date.now() + 3600000) });
let code;
try { api.parseReference('foo::bar'); } catch (e) { code = e.code; }
const { writeFile } = await import('node:fs/promises');
await writeFile(result, JSON.stringify({ events: events.length, formats: [sq.format, tar.format], hex, removed: gc.removed.length, code }));
`,
  );
  const { stdout, stderr } = await run(process.execPath, [script, ref, work, result]);
  assert.equal(stdout, '');
  assert.equal(stderr, '');
  const r = JSON.parse(await readFile(result, 'utf8')) as { events: number; formats: string[]; hex: string; removed: number; code: string };
  assert.ok(r.events > 5, `the listener saw ${r.events} events`);
  assert.deepEqual(r.formats, ['squashfs', 'tar']);
  assert.match(r.hex, /^[0-9a-f]{64}$/);
  assert.equal(r.removed, 1, 'only the squashfs went through the cache');
  assert.equal(r.code, 'E_REFERENCE_INVALID');
});
