/**
 * EROFS layout: shared xattrs, inode sizes, compact vs extended, padding so
 * inline tails never cross a block, nids and data block counts. The rules
 * are those of libcomposefs (lcfs-writer-erofs.c) so composefs images come
 * out byte-identical; docs/composefs.md lists them one by one.
 */
import {
  EROFS_BLKSIZ, EROFS_SLOTSIZE, EROFS_SUPER_OFFSET, EROFS_SUPER_SIZE, EROFS_DIRENT_SIZE,
  EROFS_INODE_COMPACT_SIZE, EROFS_INODE_EXTENDED_SIZE, EROFS_XATTR_IBODY_HEADER_SIZE,
  EROFS_XATTR_ENTRY_SIZE, EROFS_XATTR_PREFIXES, EROFS_XATTR_MAX_SHARED, EROFS_MAX_INLINE_TAIL,
  EROFS_BLOCK_MAP_ENTRY_SIZE,
} from './constants.js';
import { byteCmp, type ENode, type EXattr } from './model.js';

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

export const roundUp = (x: number, a: number): number => Math.ceil(x / a) * a;

/** Name index and on-disk suffix per xattr name: few distinct names, looked up for tens of thousands of entries. */
const indexes = new Map<string, [number, string]>();

/** Name index and the name suffix stored on disk. */
export function xattrIndex(key: string): [number, string] {
  let r = indexes.get(key);
  if (r) return r;
  r = [0, key];
  for (const [prefix, index] of EROFS_XATTR_PREFIXES) {
    if (key.startsWith(prefix)) {
      r = [index, key.slice(prefix.length)];
      break;
    }
  }
  indexes.set(key, r);
  return r;
}

/** On-disk size of one xattr entry (4-byte aligned). */
export function xattrEntrySize(x: { key: string; value: Uint8Array }): number {
  return roundUp(EROFS_XATTR_ENTRY_SIZE + xattrIndex(x.key)[1].length + x.value.length, 4);
}

/** Size of the in-inode xattr area. */
export function xattrInodeSize(nShared: number, unsharedSize: number): number {
  if (nShared === 0 && unsharedSize === 0) return 0;
  return roundUp(EROFS_XATTR_IBODY_HEADER_SIZE + nShared * 4 + unsharedSize, 4);
}

export interface SharedXattrs {
  /** Shared entries in on-disk order. */
  list: EXattr[];
  size: number;
}

/**
 * Xattrs used by more than one inode (same name and value) go to the shared
 * area, ordered by name, then value length, then value, all descending; an
 * inode references at most 127 shared ones (in its own name order), the rest
 * stay inline.
 */
export function computeSharedXattrs(nodes: ENode[]): SharedXattrs {
  const keyOf = (x: EXattr): string => `${x.key}\0${x.value.toString('latin1')}`;
  type Entry = { x: EXattr; count: number; offset: number };
  const counts = new Map<string, Entry>();
  // The entry of every xattr, in node order (one key string per xattr, not two).
  const seen: Entry[] = [];
  for (const n of nodes) {
    for (const x of n.xattrs) {
      const k = keyOf(x);
      let e = counts.get(k);
      if (e) e.count++;
      else counts.set(k, (e = { x, count: 1, offset: -1 }));
      seen.push(e);
    }
  }
  // Only shared entries are ordered (composefs images hold tens of thousands of unique ones).
  const sorted = [...counts.values()]
    .filter((e) => e.count > 1)
    .sort((a, b) => {
      const r = byteCmp(b.x.key, a.x.key);
      if (r !== 0) return r;
      if (a.x.value.length !== b.x.value.length) return b.x.value.length - a.x.value.length;
      return Buffer.compare(b.x.value, a.x.value);
    });
  const list: EXattr[] = [];
  let offset = 0;
  for (const e of sorted) {
    e.offset = offset;
    list.push(e.x);
    offset += xattrEntrySize(e.x);
  }
  let i = 0;
  for (const n of nodes) {
    let nShared = 0;
    for (const x of n.xattrs) {
      const e = seen[i++];
      if (e.offset >= 0 && nShared < EROFS_XATTR_MAX_SHARED) {
        x.sharedOffset = e.offset;
        nShared++;
      } else {
        x.sharedOffset = -1;
      }
    }
  }
  return { list, size: offset };
}

function xattrCounts(n: ENode): [number, number] {
  let shared = 0;
  let unshared = 0;
  for (const x of n.xattrs) {
    if (x.sharedOffset >= 0) shared++;
    else unshared += xattrEntrySize(x);
  }
  return [shared, unshared];
}

/** Split of directory entries into full blocks; returns [full blocks, bytes in the last partial block]. */
export function dirBlocks(n: ENode): { blocks: number; tail: number } {
  let blocks = 0;
  let size = 0;
  for (const d of n.dirents ?? []) {
    const len = EROFS_DIRENT_SIZE + d.name.length;
    if (size + len > EROFS_BLKSIZ) {
      blocks++;
      size = 0;
    }
    size += len;
  }
  return { blocks, tail: size };
}

function computeDataSize(n: ENode): void {
  const type = n.mode & S_IFMT;
  n.nBlocks = 0;
  n.tailSize = 0;
  if (type === S_IFDIR) {
    const { blocks, tail } = dirBlocks(n);
    n.nBlocks = blocks;
    n.tailSize = tail;
    if (n.tailSize > EROFS_MAX_INLINE_TAIL) {
      n.nBlocks++;
      n.tailSize = 0;
    }
  } else if (type === S_IFLNK) {
    n.tailSize = (n.target ?? '').length;
  } else if (type === S_IFREG && n.size > 0) {
    switch (n.data.kind) {
      case 'bytes':
      case 'stream':
        n.nBlocks = Math.floor(n.size / EROFS_BLKSIZ);
        n.tailSize = n.size % EROFS_BLKSIZ;
        if (n.tailSize > EROFS_MAX_INLINE_TAIL) {
          n.nBlocks++;
          n.tailSize = 0;
        }
        break;
      case 'null-chunks':
        n.tailSize = n.data.chunks * EROFS_BLOCK_MAP_ENTRY_SIZE;
        break;
      case 'sparse-chunks':
        // The block map follows the inode; it may span blocks (read one entry at a time).
        n.tailSize = n.data.present.length * EROFS_BLOCK_MAP_ENTRY_SIZE;
        break;
      default:
        break;
    }
  }
}

function fitsCompact(n: ENode, minSec: number, minNsec: number): boolean {
  if (n.mtimeSec !== minSec || n.mtimeNsec !== minNsec) return false;
  if (n.nlink > U16_MAX || n.uid > U16_MAX || n.gid > U16_MAX) return false;
  const size = (n.mode & S_IFMT) === S_IFDIR ? n.nBlocks * EROFS_BLKSIZ + n.tailSize : n.size;
  return size <= U32_MAX;
}

/** Padding in front of an inode so its inline tail does not cross a block (may move the tail to a block). */
function paddingForTail(n: ENode, pos: number, inodeSize: number, xattrSize: number): number {
  const nonTail = inodeSize + xattrSize;
  const total = nonTail + n.tailSize;
  if ((n.mode & S_IFMT) === S_IFLNK) {
    // Symlink inode and target want to share a block; a target that cannot fit goes to its own block.
    const posBlock = Math.floor(pos / EROFS_BLKSIZ);
    const endBlock = Math.floor((pos + total - 1) / EROFS_BLKSIZ);
    if (Math.floor(total / EROFS_BLKSIZ) > 0) {
      n.nBlocks++;
      n.tailSize = 0;
    }
    return posBlock !== endBlock ? roundUp(pos, EROFS_BLKSIZ) - pos : 0;
  }
  if (n.data.kind === 'sparse-chunks') return 0;
  const remainder = EROFS_BLKSIZ - ((pos + nonTail) % EROFS_BLKSIZ);
  if (remainder < n.tailSize) {
    const extra = roundUp(remainder, EROFS_SLOTSIZE);
    const remainder2 = EROFS_BLKSIZ - ((pos + nonTail + extra) % EROFS_BLKSIZ);
    if (n.tailSize <= remainder2) return extra;
    n.nBlocks++;
    n.tailSize = 0;
    return roundUp(pos, EROFS_BLKSIZ) - pos;
  }
  return 0;
}

export interface Layout {
  shared: SharedXattrs;
  /** End of the inode area (32-byte aligned); the shared xattrs follow. */
  inodesEnd: number;
  /** First data block byte offset. */
  dataStart: number;
  nDataBlocks: number;
  minMtimeSec: number;
  minMtimeNsec: number;
}

/**
 * Lays out `nodes` (breadth-first order, root first) after the superblock.
 * Sets inodeNum, nid, sizes and padding on every node.
 */
export function layout(nodes: ENode[]): Layout {
  let minSec = nodes[0].mtimeSec;
  let minNsec = nodes[0].mtimeNsec;
  nodes.forEach((n, i) => {
    n.inodeNum = i;
    if (n.mtimeSec < minSec || (n.mtimeSec === minSec && n.mtimeNsec < minNsec)) {
      minSec = n.mtimeSec;
      minNsec = n.mtimeNsec;
    }
  });
  const shared = computeSharedXattrs(nodes);
  let pos = EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE;
  const metaStart = Math.floor(pos / EROFS_BLKSIZ) * EROFS_BLKSIZ;
  let nDataBlocks = 0;
  for (const n of nodes) {
    computeDataSize(n);
    n.compact = fitsCompact(n, minSec, minNsec);
    const inodeSize = n.compact ? EROFS_INODE_COMPACT_SIZE : EROFS_INODE_EXTENDED_SIZE;
    const [nShared, unshared] = xattrCounts(n);
    n.xattrSize = xattrInodeSize(nShared, unshared);
    const ppos = pos;
    pos = roundUp(pos, EROFS_SLOTSIZE);
    n.ipad = pos - ppos;
    const extra = paddingForTail(n, pos, inodeSize, n.xattrSize);
    n.ipad += extra;
    pos += extra;
    n.isize = inodeSize + n.xattrSize + n.tailSize;
    if (n.data.kind === 'sparse-chunks') {
      const { present, chunkBits } = n.data;
      const chunkBlocks = 2 ** (chunkBits - 12);
      const last = n.size - (present.length - 1) * 2 ** chunkBits;
      present.forEach((p, i) => {
        if (p) n.nBlocks += i === present.length - 1 ? Math.ceil(last / EROFS_BLKSIZ) : chunkBlocks;
      });
    }
    nDataBlocks += n.nBlocks;
    n.nid = (pos - metaStart) / EROFS_SLOTSIZE;
    pos += n.isize;
  }
  const inodesEnd = roundUp(pos, EROFS_SLOTSIZE);
  const dataStart = roundUp(inodesEnd + shared.size, EROFS_BLKSIZ);
  return { shared, inodesEnd, dataStart, nDataBlocks, minMtimeSec: minSec, minMtimeNsec: minNsec };
}
