/**
 * Edge cases: the tree's own lost+found, names ext4 reserves, content that
 * is not available, option validation, a given UUID and label.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isOci2fsError } from '../../errors.js';
import { validateTree } from '../../tree/validate.js';
import type { DirInode, Inode } from '../../tree/types.js';
import { writeExt4 } from './index.js';
import type { ProgressEvent } from '../../events.js';
import { withLoopMount } from '../../../test/harness/mount.js';

const base = { uid: 0, gid: 0, mtimeSec: 1_600_000_000, mtimeNsec: 0, xattrs: new Map<string, Uint8Array>() };
const dirOf = (children: [string, Inode][] = [], mode = 0o755): DirInode => ({ kind: 'dir', mode, ...base, children: new Map(children) });
const file = (text: string): Inode => ({ kind: 'file', mode: 0o644, ...base, size: text.length, content: { kind: 'inline', data: Buffer.from(text) } });

function withTmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-ext4-edge-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fsck(img: string): string {
  const r = spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

const debugfs = (img: string, cmd: string): string =>
  execFileSync('debugfs', ['-R', cmd, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 });

test('an empty tree gives a tiny clean filesystem with lost+found as inode 11', async (t) => {
  const dir = withTmp(t);
  const img = join(dir, 'e.img');
  const seen: ProgressEvent[] = [];
  const r = await writeExt4(validateTree(dirOf()), img, { events: (e) => seen.push(e) });
  assert.equal(r.bytes, 256 * 4096);
  const last = seen.filter((e) => e.type === 'write-progress').pop();
  assert.deepEqual(last, { type: 'write-progress', phase: 'ext4', done: 2, total: 2 }); // root + lost+found
  fsck(img);
  assert.match(debugfs(img, 'stat /lost+found'), /Inode: 11\s+Type: directory\s+Mode:\s+0700/);
  assert.match(debugfs(img, 'stat /lost+found'), /Size: 16384/);
});

test("the tree's own lost+found directory becomes inode 11 with its entries", async (t) => {
  const dir = withTmp(t);
  const img = join(dir, 'l.img');
  await writeExt4(validateTree(dirOf([['lost+found', dirOf([['kept', file('kept\n')]], 0o750)], ['a', file('a')]])), img);
  fsck(img);
  assert.match(debugfs(img, 'stat /lost+found'), /Inode: 11\s+Type: directory\s+Mode:\s+0750/);
  assert.equal(debugfs(img, 'cat /lost+found/kept'), 'kept\n');
});

test('a non-directory /lost+found is rejected with E_TREE_INVALID', async (t) => {
  const dir = withTmp(t);
  await assert.rejects(writeExt4(validateTree(dirOf([['lost+found', file('x')]])), join(dir, 'x.img')), (e: unknown) => {
    assert.ok(isOci2fsError(e, ErrorCode.TREE_INVALID));
    assert.match((e as Error).message, /lost\+found/);
    return true;
  });
});

test('content that is only referenced cannot be written', async (t) => {
  const dir = withTmp(t);
  const ext: Inode = { kind: 'file', mode: 0o644, ...base, size: 10, content: { kind: 'external', payload: 'ab/cdef' } };
  await assert.rejects(writeExt4(validateTree(dirOf([['x', ext]])), join(dir, 'x.img')), (e: unknown) => isOci2fsError(e, ErrorCode.TREE_INVALID));
});

test('a missing or too short content file fails with E_IO naming the file', async (t) => {
  const dir = withTmp(t);
  const short = join(dir, 'short.bin');
  writeFileSync(short, Buffer.alloc(5000, 7));
  const ref = (path: string, offset: number, length: number): Inode => ({ kind: 'file', mode: 0o644, ...base, size: length, content: { kind: 'file', path, offset, length } });
  const cases: [Inode, RegExp][] = [
    [ref(join(dir, 'absent.bin'), 0, 100), /absent\.bin/],
    [ref(short, 1000, 8192), /short\.bin.*ended early/],
  ];
  for (const [inode, msg] of cases) {
    await assert.rejects(writeExt4(validateTree(dirOf([['ok', file('fine')], ['x', inode]])), join(dir, 'x.img')), (e: unknown) => {
      assert.ok(isOci2fsError(e, ErrorCode.IO), String(e));
      assert.match((e as Error).message, msg);
      return true;
    });
  }
});

test('options: given UUID and label are used; a long label and too few inodes are rejected', async (t) => {
  const dir = withTmp(t);
  const img = join(dir, 'u.img');
  await writeExt4(validateTree(dirOf([['a', file('a')]])), img, { uuid: '01234567-89ab-cdef-0123-456789abcdef', label: 'my-root' });
  fsck(img);
  const h = execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(h, /Filesystem UUID:\s+01234567-89ab-cdef-0123-456789abcdef/);
  assert.match(h, /Filesystem volume name:\s+my-root/);
  await assert.rejects(writeExt4(validateTree(dirOf()), img, { label: 'x'.repeat(17) }), (e: unknown) => isOci2fsError(e, ErrorCode.USAGE));
  await assert.rejects(writeExt4(validateTree(dirOf()), img, { uuid: 'nope' }), (e: unknown) => isOci2fsError(e, ErrorCode.USAGE));
  await assert.rejects(writeExt4(validateTree(dirOf([['a', file('a')]])), img, { inodes: 5 }), (e: unknown) => isOci2fsError(e, ErrorCode.NO_SPACE));
});

test('the default UUID follows the tree: different trees, different UUIDs', async (t) => {
  const dir = withTmp(t);
  const uuidOf = async (tree: DirInode): Promise<string> => {
    const img = join(dir, 'u.img');
    await writeExt4(validateTree(tree), img);
    return /Filesystem UUID:\s+(\S+)/.exec(execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1];
  };
  const a1 = await uuidOf(dirOf([['a', file('a')]]));
  const a2 = await uuidOf(dirOf([['a', file('a')]]));
  const b = await uuidOf(dirOf([['b', file('a')]]));
  assert.equal(a1, a2);
  assert.notEqual(a1, b);
});

test('a file with 1500 extents gets a two-level extent tree that e2fsck and the kernel read', async (t) => {
  const dir = withTmp(t);
  const n = 1500;
  const stride = 8192;
  const segs = [...Array(n).keys()].map((k) => ({ offset: k * stride + (k % 7), length: 1 + (k % 5) }));
  const packed = Buffer.alloc(segs.reduce((s, g) => s + g.length, 0));
  for (let i = 0; i < packed.length; i++) packed[i] = (i * 31 + 7) & 0xff;
  const src = join(dir, 'segs.bin');
  writeFileSync(src, packed);
  const size = n * stride;
  const logical = Buffer.alloc(size);
  let o = 0;
  for (const s of segs) {
    packed.copy(logical, s.offset, o, o + s.length);
    o += s.length;
  }
  const f: Inode = { kind: 'file', mode: 0o644, ...base, size, content: { kind: 'file', path: src, offset: 0, length: packed.length, sparse: segs } };
  const img = join(dir, 'deep.img');
  await writeExt4(validateTree(dirOf([['deep', f]])), img);
  fsck(img);
  const ex = debugfs(img, 'ex /deep');
  assert.match(ex, /^\s*0\/\s*2\s/m, ex.slice(0, 500)); // root index level
  assert.match(ex, /^\s*1\/\s*2\s/m); // index block level
  assert.match(ex, /^\s*2\/\s*2\s/m); // leaves
  const out = join(dir, 'deep.out');
  execFileSync('debugfs', ['-R', `dump /deep ${out}`, img], { stdio: 'ignore' });
  assert.ok(readFileSync(out).equals(logical));
  await withLoopMount(t, img, dir, { readOnly: true }, (mnt) => {
    assert.ok(readFileSync(join(mnt, 'deep')).equals(logical));
  });
});

test('a size that is not a multiple of the block size: file is exact, filesystem rounds down', async (t) => {
  const dir = withTmp(t);
  const img = join(dir, 's.img');
  const size = 5 * 1024 * 1024 + 100;
  const r = await writeExt4(validateTree(dirOf([['a', file('a')]])), img, { size });
  assert.equal(r.bytes, size);
  assert.equal(r.blocks, 1280);
  assert.equal(statSync(img).size, size);
  fsck(img);
});

test('zero-filled file blocks stay holes in the image file but read back as zeros', async (t) => {
  const dir = withTmp(t);
  const src = join(dir, 'zeros.bin');
  const data = Buffer.alloc(8 << 20);
  data.write('head', 0);
  data.write('tail', data.length - 4);
  writeFileSync(src, data);
  const f: Inode = { kind: 'file', mode: 0o644, ...base, size: data.length, content: { kind: 'file', path: src, offset: 0, length: data.length } };
  const img = join(dir, 'z.img');
  await writeExt4(validateTree(dirOf([['z', f]])), img);
  fsck(img);
  assert.ok(statSync(img).blocks * 512 < 1 << 20, `image uses ${statSync(img).blocks * 512} bytes on disk`);
  // the file's blocks are allocated (not a sparse file inside the filesystem)
  assert.match(debugfs(img, 'stat /z'), /Blockcount: 16384\b/);
  const out = join(dir, 'z.out');
  execFileSync('debugfs', ['-R', `dump /z ${out}`, img], { stdio: 'ignore' });
  assert.ok(readFileSync(out).equals(data));
});

test('an xattr outside the known namespaces is stored (e2fsck clean) and reported as a warning', async (t) => {
  const dir = withTmp(t);
  const f = file('x');
  f.xattrs.set('weird.name', Buffer.from('v'));
  const seen: ProgressEvent[] = [];
  const img = join(dir, 'w.img');
  await writeExt4(validateTree(dirOf([['f', f]])), img, { events: (e) => seen.push(e) });
  fsck(img);
  assert.ok(seen.some((e) => e.type === 'warning' && e.message.includes('weird.name')));
  assert.match(debugfs(img, 'ea_list /f'), /weird\.name \(1\)/);
});

test('a directory beyond one htree index block gets interior index nodes (indirect level 1)', async (t) => {
  const dir = withTmp(t);
  const big = dirOf();
  const targets = [file('a'), file('b')];
  const n = 90_000; // ≈ 560 leaf blocks > 507 root entries
  for (let i = 0; i < n; i++) big.children.set(`name-${i.toString(36).padStart(6, '0')}-pad`, targets[i % 2]);
  const img = join(dir, 'h.img');
  await writeExt4(validateTree(dirOf([['big', big]])), img);
  fsck(img);
  const htree = debugfs(img, 'htree /big');
  assert.match(htree, /Indirect levels: 1/);
  assert.match(debugfs(img, 'stat /big/name-000000-pad'), /Links: 45000/);
  const mounted = await withLoopMount(t, img, dir, {}, (mnt) => {
    const names = readdirSync(join(mnt, 'big'));
    assert.equal(names.length, n);
    // lookups go through the index
    assert.equal(readFileSync(join(mnt, 'big', `name-${(n - 1).toString(36).padStart(6, '0')}-pad`), 'utf8'), (n - 1) % 2 ? 'b' : 'a');
    writeFileSync(join(mnt, 'big', 'added-after-mount'), 'x');
  });
  if (!mounted) return;
  fsck(img);
});
