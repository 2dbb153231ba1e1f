import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOci2fsError, ErrorCode } from '../errors.js';
import { Store } from './store.js';
import { defaultStoreDir } from './layout.js';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tempStore(t: { after: (fn: () => Promise<void>) => void }): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return Store.open(join(dir, 'store'));
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A minimal valid OCI image (empty layer list is fine for the tools) put into the store. */
async function putImage(store: Store, arch = 'amd64'): Promise<{ digest: string; size: number; mediaType: string }> {
  const layer = Buffer.alloc(1024); // an empty tar: two zero blocks
  const l = await store.putBlob(layer);
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [l.digest] }, config: {} }));
  const c = await store.putBlob(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }],
    }),
  );
  const m = await store.putBlob(manifest);
  return { ...m, mediaType: 'application/vnd.oci.image.manifest.v1+json' };
}

test('store location: --store, then $OCI2FS_STORE, then $XDG_CACHE_HOME/oci2fs, then ~/.cache/oci2fs', () => {
  assert.equal(defaultStoreDir('/x/y', { OCI2FS_STORE: '/a' }), '/x/y');
  assert.equal(defaultStoreDir(undefined, { OCI2FS_STORE: '/a', XDG_CACHE_HOME: '/c' }), '/a');
  assert.equal(defaultStoreDir(undefined, { XDG_CACHE_HOME: '/c' }), '/c/oci2fs');
  assert.equal(defaultStoreDir(undefined, { XDG_CACHE_HOME: 'relative', HOME: '/h' }), '/h/.cache/oci2fs');
  assert.equal(defaultStoreDir(undefined, { HOME: '/h' }), '/h/.cache/oci2fs');
});

test('a new store is an OCI layout that umoci accepts', async (t) => {
  const store = await tempStore(t);
  assert.deepEqual(JSON.parse(await readFile(join(store.root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const index = JSON.parse(await readFile(join(store.root, 'index.json'), 'utf8'));
  assert.equal(index.schemaVersion, 2);
  assert.deepEqual(index.manifests, []);
  if (!has('umoci')) return t.skip('umoci not installed');
  assert.equal(execFileSync('umoci', ['ls', '--layout', store.root], { encoding: 'utf8' }).trim(), '');
});

test('reopening a store keeps its refs', async (t) => {
  const store = await tempStore(t);
  const m = await putImage(store);
  await store.addRef('example.com/a:1', m);
  const again = await Store.open(store.root);
  assert.equal((await again.resolveRef('example.com/a:1'))?.digest, m.digest);
});

test('putBlob verifies the expected digest and stores nothing on mismatch', async (t) => {
  const store = await tempStore(t);
  const bytes = randomBytes(100);
  await assert.rejects(store.putBlob(bytes, sha(Buffer.from('other'))), (e) => isOci2fsError(e, ErrorCode.DIGEST_MISMATCH));
  assert.equal(await store.hasBlob(sha(bytes), 100), false);
  const r = await store.putBlob(bytes, sha(bytes));
  assert.deepEqual(r, { digest: sha(bytes), size: 100 });
  assert.equal(await store.hasBlob(r.digest, 100), true);
  assert.equal(await store.hasBlob(r.digest, 99), false, 'size is part of the check');
  assert.deepEqual(Buffer.from(await store.readBlob(r.digest, 100)), bytes);
});

test('readBlob and streamBlob refuse a corrupt blob and remove it', async (t) => {
  const store = await tempStore(t);
  const bytes = randomBytes(3000);
  const { digest } = await store.putBlob(bytes);
  const bad = Buffer.from(bytes);
  bad[1234] ^= 1;
  await writeFile(store.blobPath(digest), bad);
  await assert.rejects(store.readBlob(digest, 3000), (e) => isOci2fsError(e, ErrorCode.DIGEST_MISMATCH));
  assert.equal(await store.hasBlob(digest, 3000), false);
  await store.putBlob(bytes);
  await writeFile(store.blobPath(digest), bad);
  const chunks: Uint8Array[] = [];
  await assert.rejects(
    (async () => {
      for await (const c of store.streamBlob(digest, 3000)) chunks.push(c);
    })(),
    (e) => isOci2fsError(e, ErrorCode.DIGEST_MISMATCH),
  );
  assert.equal(chunks.length, 0, 'no byte of a corrupt single-chunk blob is released');
});

test('readBlob enforces maxSize and rejects malformed digests', async (t) => {
  const store = await tempStore(t);
  const { digest } = await store.putBlob(Buffer.alloc(10));
  await assert.rejects(store.readBlob(digest, 10, 5), (e) => isOci2fsError(e, ErrorCode.LIMIT));
  assert.throws(() => store.blobPath('sha256:../../etc/passwd'), (e) => isOci2fsError(e, ErrorCode.MANIFEST_INVALID));
  assert.throws(() => store.blobPath('sha512:' + 'a'.repeat(128)), (e) => isOci2fsError(e, ErrorCode.UNSUPPORTED));
});

test('addRef replaces the same name and platform, keeps other platforms, and skopeo/umoci read it', async (t) => {
  const store = await tempStore(t);
  const amd = await putImage(store, 'amd64');
  const arm = await putImage(store, 'arm64');
  const name = '127.0.0.1:5000/test/img:latest';
  await store.addRef(name, { ...amd, platform: { os: 'linux', architecture: 'amd64' } }, { 'dev.oci2fs.reference': 'x' });
  await store.addRef(name, { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
  await store.addRef(name, { ...amd, platform: { os: 'linux', architecture: 'amd64' } });
  const refs = await store.listRefs();
  assert.equal(refs.length, 2);
  assert.equal((await store.resolveRef(name, { os: 'linux', architecture: 'arm64' }))?.digest, arm.digest);
  assert.equal((await store.resolveRef(name, { os: 'linux', architecture: 'amd64' }))?.digest, amd.digest);
  assert.equal(await store.resolveRef('nope'), undefined);
  const raw = JSON.parse(await readFile(join(store.root, 'index.json'), 'utf8'));
  assert.equal(raw.manifests[0].annotations['org.opencontainers.image.ref.name'], name);
  await store.removeRef(name, { os: 'linux', architecture: 'arm64' });
  assert.equal((await store.listRefs()).length, 1);
  if (!has('skopeo')) return t.skip('skopeo not installed');
  const out = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci:${store.root}:${name}`], { encoding: 'utf8' }));
  assert.equal(out.config.digest.length, 71);
  if (!has('umoci')) return t.skip('umoci not installed');
  assert.match(execFileSync('umoci', ['ls', '--layout', store.root], { encoding: 'utf8' }), /img:latest/);
});

test('concurrent addRef calls never lose or corrupt index.json', async (t) => {
  const store = await tempStore(t);
  const m = await putImage(store);
  await Promise.all(Array.from({ length: 12 }, (_, i) => store.addRef(`example.com/r${String(i).padStart(2, '0')}:t`, m)));
  const names = (await store.listRefs()).map((d) => d.annotations?.['org.opencontainers.image.ref.name']);
  assert.deepEqual(names, Array.from({ length: 12 }, (_, i) => `example.com/r${String(i).padStart(2, '0')}:t`));
  assert.deepEqual(await readdir(join(store.root, 'tmp')), [], 'no temp files left behind');
});

test('verify reports corrupt and missing blobs, repair removes the corrupt ones', async (t) => {
  const store = await tempStore(t);
  const m = await putImage(store);
  await store.addRef('example.com/a:1', m);
  assert.deepEqual(await store.verify(), { ok: 3, bad: [] });
  const manifest = JSON.parse(Buffer.from(await store.readBlob(m.digest, m.size)).toString());
  const layerPath = store.blobPath(manifest.layers[0].digest);
  const bytes = await readFile(layerPath);
  bytes[10] = 7;
  await writeFile(layerPath, bytes);
  await rm(store.blobPath(manifest.config.digest));
  const r = await store.verify();
  assert.equal(r.ok, 1);
  assert.deepEqual(r.bad.map((b) => b.digest).sort(), [manifest.config.digest, manifest.layers[0].digest].sort());
  assert.match(r.bad.find((b) => b.digest === manifest.config.digest)!.problem, /missing/);
  await store.verify({ repair: true });
  await assert.rejects(stat(layerPath));
});

test('cleanTemp removes old leftovers but keeps fresh ones and recent partials', async (t) => {
  const store = await tempStore(t);
  const tmp = await store.dir('tmp');
  const locks = await store.dir('locks');
  const { utimes } = await import('node:fs/promises');
  const old = new Date(Date.now() - 2 * 3600_000);
  const files = {
    oldTemp: join(tmp, 'index.json.tmp-host.1.abc'),
    newTemp: join(tmp, 'index.json.tmp-host.2.def'),
    partial: join(tmp, `sha256-${'c'.repeat(64)}.partial`),
    helper: join(locks, 'index.json.lock.0123456789ab'),
    lock: join(locks, 'index.json.lock'),
  };
  for (const p of Object.values(files)) await writeFile(p, 'x');
  for (const p of [files.oldTemp, files.partial, files.helper, files.lock]) await utimes(p, old, old);
  const removed = await store.cleanTemp();
  assert.deepEqual(removed.sort(), [files.helper, files.oldTemp].sort());
  assert.deepEqual((await store.cleanTemp(3600_000, 3600_000)).sort(), [files.partial]);
});

test('cleanTemp removes spill temp names in diffs/ after a day, never a spilled tar', async (t) => {
  const store = await tempStore(t);
  const diffs = join(store.root, 'diffs', 'sha256');
  await mkdir(diffs, { recursive: true });
  const { utimes } = await import('node:fs/promises');
  const hex = 'd'.repeat(64);
  const files = {
    tar: join(diffs, hex),
    index: join(diffs, `${hex}.entries`),
    oldTemp: join(diffs, `${hex}.tmp-0123456789abcdef`),
    hourOld: join(diffs, `${hex}.tmp-fedcba9876543210`),
  };
  for (const p of Object.values(files)) await writeFile(p, 'x');
  const dayOld = new Date(Date.now() - 25 * 3600_000);
  for (const p of [files.tar, files.index, files.oldTemp]) await utimes(p, dayOld, dayOld);
  const hourOld = new Date(Date.now() - 2 * 3600_000);
  await utimes(files.hourOld, hourOld, hourOld);
  assert.deepEqual(await store.cleanTemp(), [files.oldTemp], 'a temp name two hours old may still be read by a long import');
  assert.deepEqual((await readdir(diffs)).sort(), [hex, `${hex}.entries`, `${hex}.tmp-fedcba9876543210`].sort());
});

test('several processes adding refs at once: index.json keeps every ref and stays valid', async (t) => {
  const store = await tempStore(t);
  const m = await putImage(store);
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const storeJs = fileURLToPath(new URL('./store.js', import.meta.url));
  const script = (p: number) => `import { Store } from ${JSON.stringify(storeJs)};
    const s = await Store.open(${JSON.stringify(store.root)});
    await Promise.all([0, 1, 2, 3, 4].map((i) => s.addRef('example.com/p${p}/r' + i + ':t', ${JSON.stringify(m)})));`;
  const codes = await Promise.all(
    [0, 1, 2, 3].map(
      (p) =>
        new Promise<number | null>((res) => {
          const c = spawn(process.execPath, ['--input-type=module', '-e', script(p)], { stdio: ['ignore', 'ignore', 'inherit'] });
          c.once('close', res);
        }),
    ),
  );
  assert.deepEqual(codes, [0, 0, 0, 0]);
  const refs = await store.listRefs();
  assert.equal(refs.length, 20);
  assert.equal(JSON.parse(await readFile(join(store.root, 'index.json'), 'utf8')).manifests.length, 20);
  assert.deepEqual(await readdir(join(store.root, 'locks')), []);
});
