/**
 * Test fixture (used only by ext4.test.ts): a tree with every inode kind
 * and the awkward cases ext4 has rules for, plus what a correct image must
 * show for each path.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { countLinks, stMode, walk, type DirInode, type FileInode, type Inode } from '../../tree/types.js';

const T = 1_700_000_000;
type Base = Pick<Inode, 'mode' | 'uid' | 'gid' | 'mtimeSec' | 'mtimeNsec' | 'xattrs'>;
const base = (mode: number, extra: Partial<Base> = {}): Base => ({ mode, uid: 0, gid: 0, mtimeSec: T, mtimeNsec: 0, xattrs: new Map(), ...extra });
const dirOf = (mode = 0o755, extra: Partial<Base> = {}): DirInode => ({ kind: 'dir', ...base(mode, extra), children: new Map() });
const inline = (data: Uint8Array | string, mode = 0o644, extra: Partial<Base> = {}): FileInode => {
  const d = typeof data === 'string' ? Buffer.from(data) : data;
  return { kind: 'file', ...base(mode, extra), size: d.length, content: { kind: 'inline', data: d } };
};

/** Deterministic pseudo-random bytes. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** The logical content of sparse files, known to the fixture. */
const logical = new Map<FileInode, { sha256: string; ranges?: { offset: number; data: Buffer }[] }>();

export function buildTestTree(dir: string): DirInode {
  logical.clear();
  const root = dirOf();
  const data = dirOf();
  root.children.set('data', data);
  data.children.set('hello.txt', inline('hello\n'));
  const blobBytes = bytes(1_500_000, 7);
  writeFileSync(join(dir, 'blob.bin'), blobBytes);
  data.children.set('blob', { kind: 'file', ...base(0o600, { uid: 1000, gid: 1000 }), size: blobBytes.length, content: { kind: 'file', path: join(dir, 'blob.bin'), offset: 0, length: blobBytes.length } });
  // a slice of the same file, at an offset
  data.children.set('slice', { kind: 'file', ...base(0o644), size: 10_000, content: { kind: 'file', path: join(dir, 'blob.bin'), offset: 12_345, length: 10_000 } });
  const cap = inline('#!/bin/true\n', 0o4755, { uid: 100_000, gid: 200_000 });
  cap.xattrs.set('security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
  data.children.set('setuid-cap', cap);
  data.children.set('sgid-sticky', dirOf(0o3777, { uid: 70_000, gid: 80_000 }));
  const hard = inline('shared content\n', 0o640, { gid: 5 });
  data.children.set('hard1', hard);
  data.children.set('hard2', hard);
  data.children.set('short-link', { kind: 'symlink', ...base(0o777), target: 'hello.txt' });
  data.children.set('link-59', { kind: 'symlink', ...base(0o777), target: 'l'.repeat(59) });
  data.children.set('link-60', { kind: 'symlink', ...base(0o777), target: 'm'.repeat(60) });
  data.children.set('long-link', { kind: 'symlink', ...base(0o777), target: '../'.repeat(60) + 'target' });
  data.children.set('\xff\x80odd', inline('odd bytes\n'));
  data.children.set('with space', inline(''));
  data.children.set('new\nline', inline('x'));
  data.children.set(Buffer.from('ünïcödé').toString('latin1'), inline('utf8'));
  data.children.set('old-1960', inline('old', 0o644, { mtimeSec: -315_619_200, mtimeNsec: 123 }));
  data.children.set('y2040', inline('future', 0o644, { mtimeSec: 2_208_988_800, mtimeNsec: 999_999_999 }));
  data.children.set('y2300', inline('far', 0o644, { mtimeSec: 10_413_792_000, mtimeNsec: 1 }));
  data.children.set('empty', inline(''));

  const dev = dirOf();
  root.children.set('dev', dev);
  dev.children.set('null', { kind: 'chardev', ...base(0o666), rdevMajor: 1, rdevMinor: 3 });
  dev.children.set('sda', { kind: 'blockdev', ...base(0o660, { gid: 6 }), rdevMajor: 8, rdevMinor: 0 });
  dev.children.set('wide', { kind: 'chardev', ...base(0o600), rdevMajor: 300, rdevMinor: 70_000 });
  dev.children.set('fifo', { kind: 'fifo', ...base(0o644) });
  dev.children.set('sock', { kind: 'socket', ...base(0o755) });

  const x = dirOf();
  root.children.set('x', x);
  const mk = (): FileInode => {
    const f = inline('xattrs');
    for (let i = 0; i < 5; i++) f.xattrs.set(`user.big${i}`, bytes(100, i + 1));
    f.xattrs.set('trusted.t', Buffer.from('trusted value'));
    return f;
  };
  x.children.set('shared1', mk());
  x.children.set('shared2', mk());
  const small = inline('small');
  small.xattrs.set('user.k', Buffer.from('v'));
  small.xattrs.set('user.empty', new Uint8Array(0));
  x.children.set('inline-xattrs', small);
  // POSIX ACL in the VFS xattr format: version 2, {tag, perm, id} entries
  const acl = Buffer.alloc(4 + 5 * 8);
  acl.writeUInt32LE(2, 0);
  [[0x01, 7, 0xffffffff], [0x02, 5, 1000], [0x04, 5, 0xffffffff], [0x10, 5, 0xffffffff], [0x20, 4, 0xffffffff]].forEach(([tag, perm, id], i) => {
    acl.writeUInt16LE(tag, 4 + i * 8);
    acl.writeUInt16LE(perm, 6 + i * 8);
    acl.writeUInt32LE(id, 8 + i * 8);
  });
  const withAcl = inline('acl', 0o754);
  withAcl.xattrs.set('system.posix_acl_access', acl);
  x.children.set('acl', withAcl);
  const xdir = dirOf(0o750);
  xdir.xattrs.set('user.dir', Buffer.from('on a directory'));
  x.children.set('xdir', xdir);

  // > 5000 entries: htree; some names with bytes ≥ 0x80 exercise the unsigned hash
  const big = dirOf();
  root.children.set('big', big);
  const shared = inline('');
  for (let i = 0; i < 5500; i++) {
    const name = i % 100 === 7 ? `n\xe9\xff-${i}` : `entry-${String(i).padStart(5, '0')}-${'q'.repeat(i % 40)}`;
    big.children.set(name, i % 2 === 0 ? shared : inline(''));
  }
  big.children.set('sub', dirOf());

  // fragmented: 10 data segments separated by holes → 10 extents → extent tree with a leaf block
  const frag = dirOf();
  root.children.set('frag', frag);
  const segs = [...Array(10).keys()].map((k) => ({ offset: k * 65_536 + (k % 3) * 100, length: 4096 + k * 10 }));
  const packed = bytes(segs.reduce((s, g) => s + g.length, 0), 99);
  writeFileSync(join(dir, 'frag.bin'), packed);
  const fragFile: FileInode = { kind: 'file', ...base(0o644), size: 10 * 65_536, content: { kind: 'file', path: join(dir, 'frag.bin'), offset: 0, length: packed.length, sparse: segs } };
  frag.children.set('fragmented', fragFile);
  const full = Buffer.alloc(fragFile.size);
  let o = 0;
  for (const s of segs) {
    packed.copy(full, s.offset, o, o + s.length);
    o += s.length;
  }
  logical.set(fragFile, { sha256: createHash('sha256').update(full).digest('hex') });

  // > 4 GiB, sparse: data at the start, past 4 GiB, and at the very end
  const huge = dirOf();
  root.children.set('huge', huge);
  const hsize = 5 * 2 ** 30 + 123;
  const hsegs = [
    { offset: 0, length: 1000 },
    { offset: 4.5 * 2 ** 30, length: 5000 },
    { offset: hsize - 123, length: 123 },
  ];
  const hpacked = bytes(6123, 5);
  writeFileSync(join(dir, 'huge.bin'), hpacked);
  const hugeFile: FileInode = { kind: 'file', ...base(0o644), size: hsize, content: { kind: 'file', path: join(dir, 'huge.bin'), offset: 0, length: hpacked.length, sparse: hsegs } };
  huge.children.set('sparse', hugeFile);
  logical.set(hugeFile, {
    sha256: '',
    ranges: [
      { offset: 0, data: hpacked.subarray(0, 1000) },
      { offset: 1000, data: Buffer.alloc(3096) },
      { offset: 4.5 * 2 ** 30 - 10, data: Buffer.concat([Buffer.alloc(10), hpacked.subarray(1000, 6000)]) },
      { offset: hsize - 123, data: hpacked.subarray(6000) },
    ],
  });
  return root;
}

/** What the image must show for one path. */
export interface Expected {
  path: string;
  kind: Inode['kind'];
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtimeSec: number;
  mtimeNsec: number;
  size: number;
  sha256: string;
  target: string;
  rdevMajor: number;
  rdevMinor: number;
  xattrs: [string, Uint8Array][];
  children?: string[];
  /** Name safe to pass to debugfs in double quotes. */
  debugfs: boolean;
  checkRanges?: { offset: number; data: Buffer }[];
}

/** Expected facts for every path (the big directory's children only by name). */
export function expectedEntries(root: DirInode): Expected[] {
  const links = countLinks(root);
  const out: Expected[] = [];
  walk(root, (path, inode) => {
    if (path.startsWith('/big/') && !/^\/big\/(entry-0000[0-3]|sub|n\xe9\xff-107)/.test(path)) return;
    let nlink = links.get(inode) ?? 1;
    if (path === '/') nlink++; // lost+found
    const e: Expected = {
      path,
      kind: inode.kind,
      mode: stMode(inode),
      uid: inode.uid,
      gid: inode.gid,
      nlink,
      mtimeSec: inode.mtimeSec,
      mtimeNsec: inode.mtimeNsec,
      size: inode.kind === 'file' ? inode.size : 0,
      sha256: '',
      target: inode.kind === 'symlink' ? inode.target : '',
      rdevMajor: inode.kind === 'chardev' || inode.kind === 'blockdev' ? inode.rdevMajor : 0,
      rdevMinor: inode.kind === 'chardev' || inode.kind === 'blockdev' ? inode.rdevMinor : 0,
      xattrs: [...inode.xattrs].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
      debugfs: /^[\x21-\x7e/]*$/.test(path) && !path.includes('"'),
    };
    if (inode.kind === 'file') {
      const l = logical.get(inode);
      if (l) {
        e.sha256 = l.sha256;
        e.checkRanges = l.ranges;
      } else if (inode.content.kind === 'inline') {
        e.sha256 = createHash('sha256').update(inode.content.data).digest('hex');
      } else if (inode.content.kind === 'file') {
        // a plain slice of a fixture file: hash the bytes directly from disk
        const buf = readFileSync(inode.content.path).subarray(inode.content.offset, inode.content.offset + inode.content.length);
        e.sha256 = createHash('sha256').update(buf).digest('hex');
      }
    }
    if (inode.kind === 'dir') {
      e.children = [...inode.children.keys()];
      if (path === '/') e.children.push('lost+found');
      e.children.sort();
    }
    out.push(e);
  });
  return out;
}
