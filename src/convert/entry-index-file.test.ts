import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layerEntries } from './entry-index-file.js';
import { readTarFile } from '../tar/reader.js';
import type { TarEntry } from '../tar/entry.js';

async function all(it: AsyncIterable<TarEntry>): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** A real layer tar written by GNU tar (PAX, with an xattr), and where its index goes. */
function fixture(): { dir: string; tar: string; index: { path: string; sha256: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-eidx-'));
  const root = join(dir, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'hostname'), 'index\n');
  writeFileSync(join(root, 'big'), Buffer.alloc(70_000, 7));
  const tar = join(dir, 'layer.tar');
  execFileSync('tar', ['--format=pax', '--sort=name', '--numeric-owner', '-C', root, '-cf', tar, '.']);
  const sha256 = createHash('sha256').update(readFileSync(tar)).digest('hex');
  return { dir, tar, index: { path: join(dir, `${sha256}.entries`), sha256 } };
}

test('layerEntries: the first read indexes the tar; later reads use the index, not the headers', async () => {
  const f = fixture();
  try {
    const direct = await all(readTarFile(f.tar, { label: 'l' }));
    assert.deepEqual(await (layerEntries(f.tar, f.index, { label: 'l' })), direct);
    assert.ok(existsSync(f.index.path), 'index written');
    // Headers destroyed (same size): reading the tar would fail; the index still answers.
    const fd = openSync(f.tar, 'r+');
    writeSync(fd, Buffer.alloc(512, 0x41), 0, 512, 0);
    closeSync(fd);
    await assert.rejects(all(readTarFile(f.tar, { label: 'l' })));
    assert.deepEqual(await (layerEntries(f.tar, f.index, { label: 'l' })), direct);
    // Custom limits ignore the index (it was made with the defaults).
    await assert.rejects((layerEntries(f.tar, f.index, { label: 'l', limits: { maxEntries: 1000 } })));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('layerEntries: a damaged index is ignored and rewritten; lenient reads write none', async () => {
  const f = fixture();
  try {
    const direct = await all(readTarFile(f.tar, { label: 'l' }));
    await (layerEntries(f.tar, f.index, { label: 'l', lenient: true }));
    assert.equal(existsSync(f.index.path), false, 'a lenient read may have skipped entries: no index');
    await (layerEntries(f.tar, f.index, { label: 'l' }));
    const good = readFileSync(f.index.path);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0xff;
    writeFileSync(f.index.path, bad);
    assert.deepEqual(await (layerEntries(f.tar, f.index, { label: 'l' })), direct);
    assert.deepEqual(readFileSync(f.index.path), good, 'rewritten from the tar');
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
