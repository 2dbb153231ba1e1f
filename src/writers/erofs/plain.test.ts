import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, mkdir } from 'node:fs/promises';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateTree } from '../../tree/validate.js';
import { writeErofs } from './plain.js';
import { makeTestTree } from './testtree.js';
import { compareWithHost } from './compare.js';

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-erofs-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('plain EROFS: deterministic bytes; fsck.erofs checks it and --extract reproduces the tree', async () => {
  await withTmp(async (dir) => {
    const src = join(dir, 'src');
    await mkdir(src);
    // With the > 4 GiB sparse file: fsck.erofs verifies every inode and all data.
    const sparseTree = validateTree(await makeTestTree(src, { bigSparse: true }));
    const a = join(dir, 'a.img');
    const b = join(dir, 'b.img');
    const r = await writeErofs(sparseTree, a);
    await writeErofs(sparseTree, b);
    assert.deepEqual(await readFile(a), await readFile(b));
    assert.equal(r.bytes, (await readFile(a)).length);
    assert.equal(r.bytes % 4096, 0);
    assert.ok(r.bytes < 2 << 20, `holes take no space (${r.bytes} bytes)`);
    execFileSync('fsck.erofs', [a], { stdio: 'pipe' });
    // fsck.erofs 1.5 extracts null chunks (holes) at wrong offsets, so the
    // extraction comparison uses the tree without the sparse file (the kernel
    // mount test below covers it).
    const tree = validateTree(await makeTestTree(src));
    const c = join(dir, 'c.img');
    await writeErofs(tree, c);
    const out = join(dir, 'x');
    execFileSync('fsck.erofs', [`--extract=${out}`, '--preserve', c], { stdio: 'pipe' });
    assert.deepEqual(await compareWithHost(tree.root, out, { fsckExtract: true }), []);
  });
});

test('plain EROFS: kernel mount shows the same tree, xattrs and nanoseconds included', async (t) => {
  await withTmp(async (dir) => {
    const src = join(dir, 'src');
    await mkdir(src);
    const tree = validateTree(await makeTestTree(src, { bigSparse: true }));
    const img = join(dir, 'a.img');
    await writeErofs(tree, img);
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    const m = spawnSync('mount', ['-t', 'erofs', '-o', 'loop,ro', img, mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      t.skip(`cannot loop-mount EROFS here: ${m.stderr.trim() || m.error?.message}`);
      return;
    }
    try {
      const diffs = await compareWithHost(tree.root, mnt, { xattrs: true, nsec: true });
      assert.deepEqual(diffs, []);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

test('plain EROFS: external content is refused with E_TREE_INVALID', async () => {
  await withTmp(async (dir) => {
    const root = validateTree({
      kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map(),
      children: new Map([['x', { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map(), size: 10_000, content: { kind: 'external', payload: 'ab/cd' } }]]),
    });
    await assert.rejects(writeErofs(root, join(dir, 'x.img')), /E_TREE_INVALID|only referenced/);
  });
});
