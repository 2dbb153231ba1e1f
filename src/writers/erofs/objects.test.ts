import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile, readdir, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateTree } from '../../tree/validate.js';
import type { FileInode, Inode } from '../../tree/types.js';
import { bytes, dir } from './testtree.js';
import { prepareObjects } from './objects.js';

const base = { mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map<string, Uint8Array>() };

/** Files packed into one blob at offsets (like an uncompressed layer), plus sparse and inline ones. */
async function makeFiles(d: string): Promise<{ files: [string, FileInode, Buffer][] }> {
  const blob = join(d, 'layer.bin');
  const parts: Buffer[] = [];
  let off = 0;
  const files: [string, FileInode, Buffer][] = [];
  const packed = (name: string, data: Buffer): void => {
    files.push([name, { kind: 'file', ...base, size: data.length, content: { kind: 'file', path: blob, offset: off, length: data.length } }, data]);
    parts.push(data);
    off += data.length;
  };
  for (const n of [4095, 4096, 4097, 65_537, 300_000, 1 << 20, (1 << 20) + 1, 3 << 20]) packed(`f${n}`, bytes(n, `o${n}`));
  packed('dup4097', bytes(4097, 'o4097')); // same content as f4097
  // Sparse: 5 MiB logical, data at 0 (5000 bytes) and at 3 MiB (10000 bytes).
  const s1 = bytes(5000, 's1');
  const s2 = bytes(10_000, 's2');
  const logical = Buffer.alloc(5 << 20);
  s1.copy(logical, 0);
  s2.copy(logical, 3 << 20);
  files.push(['sparse', { kind: 'file', ...base, size: logical.length, content: { kind: 'file', path: blob, offset: off, length: 15_000, sparse: [{ offset: 0, length: 5000 }, { offset: 3 << 20, length: 10_000 }] } }, logical]);
  parts.push(s1, s2);
  off += 15_000;
  const inl = bytes(70_000, 'inline'); // over LCFS_INLINE_CONTENT_MAX: stored as an object
  files.push(['inline', { kind: 'file', ...base, size: inl.length, content: { kind: 'inline', data: inl } }, inl]);
  await writeFile(blob, Buffer.concat(parts));
  return { files };
}

test('objects: worker and main-thread paths store every file once under its `fsverity digest`, reruns add nothing', async () => {
  const d = await mkdtemp(join(tmpdir(), 'oci2fs-obj-'));
  try {
    const { files } = await makeFiles(d);
    const tree = validateTree(dir(files.map(([n, f]) => [n, f as Inode])));
    const expected = new Map<FileInode, string>();
    for (const [n, f, data] of files) {
      const p = join(d, `ref-${n}`);
      await writeFile(p, data);
      expected.set(f, execFileSync('fsverity', ['digest', '--compact', p], { encoding: 'utf8' }).trim());
    }
    const distinct = new Set(expected.values()).size;
    for (const [label, tuning] of [['workers', { threads: 2, workersMinBytes: 0 }], ['main thread', { threads: 0 }]] as const) {
      const objects = join(d, `objects-${label.replace(' ', '-')}`);
      const r1 = await prepareObjects(tree, { objectsDir: objects, ...tuning });
      assert.equal(r1.newObjects, distinct, label);
      assert.equal(r1.objects, distinct, label);
      for (const [n, f, data] of files) {
        const want = expected.get(f) as string;
        assert.equal(r1.refs.get(f)?.digest, want, `${label} ${n}`);
        const obj = join(objects, want.slice(0, 2), want.slice(2));
        assert.deepEqual(await readFile(obj), data, `${label} ${n} object bytes`);
        assert.equal((await stat(obj)).mode & 0o777, 0o644);
      }
      assert.deepEqual((await readdir(objects, { recursive: true })).filter((x) => /(^|\/)\./.test(x)), [], `${label}: no temp files left`);
      const r2 = await prepareObjects(tree, { objectsDir: objects, ...tuning });
      assert.equal(r2.newObjects, 0, label);
      // Digests only (no objects dir).
      const r3 = await prepareObjects(tree, tuning);
      for (const [n, f] of files) assert.equal(r3.refs.get(f)?.digest, expected.get(f), `${label} ${n} digest only`);
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('objects: an unreadable content file fails with E_IO naming it, on both paths, leaving no temp files', async () => {
  const d = await mkdtemp(join(tmpdir(), 'oci2fs-obj-'));
  try {
    const missing = join(d, 'gone.bin');
    const f: FileInode = { kind: 'file', ...base, size: 10_000, content: { kind: 'file', path: missing, offset: 0, length: 10_000 } };
    const tree = validateTree(dir([['x', f]]));
    for (const tuning of [{ threads: 2, workersMinBytes: 0 }, { threads: 0 }]) {
      const objects = join(d, `o${tuning.threads}`);
      await assert.rejects(prepareObjects(tree, { objectsDir: objects, ...tuning }), (e: Error & { code?: string }) => e.code === 'E_IO' && e.message.includes('gone.bin'));
      assert.deepEqual(await readdir(objects, { recursive: true }), []);
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('objects: an objects directory emptied between two passes of one process gets every object again (no stale listing)', async () => {
  const d = await mkdtemp(join(tmpdir(), 'oci2fs-obj-'));
  try {
    const { files } = await makeFiles(d);
    const tree = validateTree(dir(files.map(([n, f]) => [n, f as Inode])));
    const objects = join(d, 'objects');
    const first = await prepareObjects(tree, { objectsDir: objects, threads: 0 });
    assert.ok(first.newObjects > 0);
    await rm(objects, { recursive: true });
    const again = await prepareObjects(tree, { objectsDir: objects, threads: 0 });
    assert.equal(again.newObjects, first.newObjects);
    for (const [n, f, data] of files) {
      const hex = again.refs.get(f)?.digest as string;
      assert.deepEqual(await readFile(join(objects, hex.slice(0, 2), hex.slice(2))), data, n);
    }
    // one object removed by hand: the next pass lists the directory again and stores it
    const [, f0, data0] = files[0];
    const hex0 = again.refs.get(f0)?.digest as string;
    await rm(join(objects, hex0.slice(0, 2), hex0.slice(2)));
    const third = await prepareObjects(tree, { objectsDir: objects, threads: 0 });
    assert.equal(third.newObjects, 1);
    assert.deepEqual(await readFile(join(objects, hex0.slice(0, 2), hex0.slice(2))), data0);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
