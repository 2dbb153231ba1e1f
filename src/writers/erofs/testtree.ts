/**
 * Test helper (not exported from index.ts): a tree exercising every inode
 * type and layout case of the EROFS writers, with file contents on disk.
 */
import { writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { DirInode, FileInode, Inode } from '../../tree/types.js';

export function bytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  for (let off = 0, i = 0; off < n; i++) off += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

const base = (mode: number, extra: Partial<{ uid: number; gid: number; mtimeSec: number; mtimeNsec: number }> = {}) => ({
  mode, uid: 0, gid: 0, mtimeSec: 1_700_000_000, mtimeNsec: 0, xattrs: new Map<string, Uint8Array>(), ...extra,
});

export function dir(children: [string, Inode][], mode = 0o755): DirInode {
  return { kind: 'dir', ...base(mode), children: new Map(children) };
}

/** Writes `data` to `path` and returns a file inode reading it. */
export async function diskFile(path: string, data: Buffer, mode = 0o644): Promise<FileInode> {
  await writeFile(path, data);
  return { kind: 'file', ...base(mode), size: data.length, content: { kind: 'file', path, offset: 0, length: data.length } };
}

/**
 * The reference tree. `bigSparse`: add a > 4 GiB sparse file (data at the
 * start, in the middle and at the end).
 */
export async function makeTestTree(dirPath: string, opts: { bigSparse?: boolean } = {}): Promise<DirInode> {
  const files: [string, Inode][] = [];
  for (const n of [0, 1, 100, 2048, 2049, 4095, 4096, 4097, 10_000, 70_000]) {
    files.push([`f${n}`, await diskFile(join(dirPath, `f${n}`), bytes(n, `f${n}`))]);
  }
  const inl: FileInode = { kind: 'file', ...base(0o600, { uid: 70000, gid: 5, mtimeSec: 1_600_000_000, mtimeNsec: 123456789 }), size: 5, content: { kind: 'inline', data: Buffer.from('hello') } };
  inl.xattrs.set('user.comment', Buffer.from('inline file'));
  inl.xattrs.set('security.capability', Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  const shared = Buffer.from('same-value');
  const linked = await diskFile(join(dirPath, 'linked'), bytes(3000, 'linked'), 0o4755);
  linked.xattrs.set('user.shared', shared);
  const big: [string, Inode][] = [];
  for (let i = 0; i < 700; i++) {
    const f: FileInode = { kind: 'file', ...base(0o644), size: 0, content: { kind: 'inline', data: new Uint8Array(0) } };
    if (i % 100 === 0) f.xattrs.set('user.shared', shared);
    big.push([`entry-with-a-fairly-long-name-${String(i).padStart(4, '0')}`, f]);
  }
  const special: [string, Inode][] = [
    ['chr', { kind: 'chardev', ...base(0o620, { gid: 5 }), rdevMajor: 4, rdevMinor: 1 }],
    ['blk', { kind: 'blockdev', ...base(0o660, { gid: 6 }), rdevMajor: 259, rdevMinor: 300000 }],
    ['fifo', { kind: 'fifo', ...base(0o644) }],
    ['sock', { kind: 'socket', ...base(0o755) }],
    ['whiteout', { kind: 'chardev', ...base(0o000), rdevMajor: 0, rdevMinor: 0 }],
  ];
  const links: [string, Inode][] = [
    ['short', { kind: 'symlink', ...base(0o777), target: '../f100' }],
    ['long', { kind: 'symlink', ...base(0o777), target: 'x/'.repeat(1900) + 'end' }],
    ['weird name \n=x', { kind: 'symlink', ...base(0o777, { mtimeSec: -5 }), target: '/\xff\x01' }],
  ];
  const root = dir([
    ...files,
    ['inline', inl],
    ['linked', linked],
    ['hardlink', linked],
    ['sub', dir([['again', linked], ['links', dir(links)], ['deeper', dir([['empty', dir([])]], 0o700)]])],
    ['bigdir', dir(big)],
    ['dev', dir(special)],
  ]);
  root.xattrs.set('user.shared', shared);
  root.xattrs.set('trusted.overlay.opaque', Buffer.from('y'));
  if (opts.bigSparse) {
    const packed = Buffer.concat([bytes(5000, 's1'), bytes(4096, 's2'), bytes(77, 's3')]);
    const path = join(dirPath, 'sparse.packed');
    await writeFile(path, packed);
    const size = 5 * 2 ** 30 + 123;
    const sparse: FileInode = {
      kind: 'file', ...base(0o644), size,
      content: { kind: 'file', path, offset: 0, length: packed.length, sparse: [{ offset: 0, length: 5000 }, { offset: 2 ** 32 + 4096, length: 4096 }, { offset: size - 77, length: 77 }] },
    };
    root.children.set('sparse', sparse);
  }
  return root;
}
