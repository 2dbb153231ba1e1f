/**
 * Second pass: everything about each inode that does not depend on where
 * its blocks land — directory blocks (with checksums), symlink and device
 * encodings, xattr placement (in-inode or a shared block), data ranges.
 */
import { createHash } from 'node:crypto';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { stMode, S_IFDIR, S_IFREG } from '../../tree/types.js';
import { BLOCK_SIZE, I_BLOCK_SIZE, JOURNAL_INO, LINK_MAX, LOST_FOUND_INO } from './constants.js';
import { fileRanges, type BlockRange, type Node } from './collect.js';
import { buildDir, emptyLeaf } from './dir.js';
import type { Extent } from './extent.js';
import { inodeSeed, type Timestamp } from './inode.js';
import { encodeInodeXattrs, encodeXattrBlock, fitsXattrBlock, prepareXattrs } from './xattr.js';

/** mke2fs makes lost+found this many blocks (16 KiB) so e2fsck never has to grow it. */
const LOST_FOUND_BLOCKS = 4;
/** Largest file: extent logical block numbers are 32-bit (16 TiB - 4 KiB with 4 KiB blocks). */
const MAX_FILE_SIZE = (2 ** 32 - 1) * BLOCK_SIZE;
/** Most inodes one xattr block may serve (EXT4_XATTR_REFCOUNT_MAX); then a new copy starts. */
const XATTR_REFCOUNT_MAX = 1024;
/** Default lost+found permissions (mke2fs). */
const LOST_FOUND_MODE = S_IFDIR | 0o700;

/** A shared xattr block: its content (without refcount/checksum) and users. */
export interface XattrBlock {
  data: Uint8Array;
  refcount: number;
  blockNr: number;
}

/** Per-inode plan. Allocation fills `extents`, `treeBlocks` and the xattr block number. */
export interface Prepared {
  node: Node;
  mode: number;
  uid: number;
  gid: number;
  time: Timestamp;
  size: number;
  links: number;
  /** Logical ranges to allocate. */
  ranges: BlockRange[];
  /** Generated content for dirs and slow symlinks (logical blocks 0..n-1). */
  blocks: Uint8Array[] | null;
  indexed: boolean;
  /** Uses an extent tree (files, dirs, slow symlinks). */
  extentMapped: boolean;
  /** i_block for fast symlinks and devices. */
  iBlock: Uint8Array | null;
  xattrArea: Uint8Array | null;
  xattrBlock: XattrBlock | null;
  extents: Extent[];
  treeBlocks: number[];
  /** Journal inode: only this first block has content; the rest stays zero. */
  journalHead?: Uint8Array;
}

/** Device numbers in i_block: old 16-bit form in word 0 when both fit a byte, else the new form in word 1. */
export function deviceIBlock(major: number, minor: number): Uint8Array {
  const b = new Uint8Array(I_BLOCK_SIZE);
  const dv = new DataView(b.buffer);
  if (major < 256 && minor < 256) dv.setUint32(0, (major << 8) | minor, true);
  else dv.setUint32(4, ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0, true);
  return b;
}

/** The journal inode (8): a regular file of `blocks` blocks whose first block is `head`. */
export function prepareJournal(blocks: number, head: Uint8Array, time: number): Prepared {
  return {
    node: { ino: JOURNAL_INO, inode: null, path: '<journal>', links: 1, parent: 0, children: [] },
    mode: S_IFREG | 0o600,
    uid: 0,
    gid: 0,
    time: { sec: time, nsec: 0 },
    size: blocks * BLOCK_SIZE,
    links: 1,
    ranges: [{ start: 0, len: blocks }],
    blocks: null,
    indexed: false,
    extentMapped: true,
    iBlock: null,
    xattrArea: null,
    xattrBlock: null,
    extents: [],
    treeBlocks: [],
    journalHead: head,
  };
}

/** Fast symlinks keep targets shorter than i_block (60 bytes) inline. */
export const FAST_SYMLINK_MAX = I_BLOCK_SIZE - 1;

export function prepareAll(
  nodes: Node[],
  fsSeed: number,
  hashSeed: readonly number[],
  defaultTime: number,
  warn: (message: string) => void = () => undefined,
): { prepared: Prepared[]; xattrBlocks: XattrBlock[] } {
  const shared = new Map<string, XattrBlock>();
  const xattrBlocks: XattrBlock[] = [];
  const prepared = nodes.map((node): Prepared => {
    const t = node.inode;
    const p: Prepared = {
      node,
      mode: t ? stMode(t) : LOST_FOUND_MODE,
      uid: t?.uid ?? 0,
      gid: t?.gid ?? 0,
      time: t ? { sec: t.mtimeSec, nsec: t.mtimeNsec } : { sec: defaultTime, nsec: 0 },
      size: 0,
      links: node.links,
      ranges: [],
      blocks: null,
      indexed: false,
      extentMapped: false,
      iBlock: null,
      xattrArea: null,
      xattrBlock: null,
      extents: [],
      treeBlocks: [],
    };
    const seed = inodeSeed(fsSeed, node.ino);
    if (!t || t.kind === 'dir') {
      const d = buildDir(node.ino, node.parent, node.children, hashSeed, seed, node.ino !== LOST_FOUND_INO);
      if (node.ino === LOST_FOUND_INO) while (d.blocks.length < LOST_FOUND_BLOCKS) d.blocks.push(emptyLeaf(seed));
      p.blocks = d.blocks;
      p.indexed = d.indexed;
      p.extentMapped = true;
      p.size = d.blocks.length * BLOCK_SIZE;
      p.ranges = [{ start: 0, len: d.blocks.length }];
      if (p.links > LINK_MAX) p.links = 1; // dir_nlink: "many" subdirectories
    } else if (t.kind === 'file') {
      if (t.size > MAX_FILE_SIZE) {
        throw new Oci2fsError(ErrorCode.TREE_INVALID, `${node.path} is ${t.size} bytes; ext4 with 4 KiB blocks holds at most ${MAX_FILE_SIZE} bytes per file`);
      }
      p.extentMapped = true;
      p.size = t.size;
      p.ranges = fileRanges(t);
    } else if (t.kind === 'symlink') {
      const target = Buffer.from(t.target, 'latin1');
      p.size = target.length;
      if (target.length <= FAST_SYMLINK_MAX) {
        p.iBlock = new Uint8Array(I_BLOCK_SIZE);
        p.iBlock.set(target);
      } else {
        const blk = new Uint8Array(BLOCK_SIZE);
        blk.set(target);
        p.blocks = [blk];
        p.extentMapped = true;
        p.ranges = [{ start: 0, len: 1 }];
      }
    } else if (t.kind === 'chardev' || t.kind === 'blockdev') {
      p.iBlock = deviceIBlock(t.rdevMajor, t.rdevMinor);
    }
    if (t && t.xattrs.size > 0) {
      const entries = prepareXattrs(t.xattrs, node.path);
      for (const e of entries) {
        if (e.index === 0) warn(`${node.path}: xattr ${JSON.stringify(Buffer.from(e.name).toString('latin1'))} has a namespace Linux does not know; it is stored but the kernel will not list it`);
      }
      p.xattrArea = encodeInodeXattrs(entries);
      if (!p.xattrArea) {
        if (!fitsXattrBlock(entries)) {
          throw new Oci2fsError(ErrorCode.TREE_INVALID, `${node.path}: extended attributes need more than one ${BLOCK_SIZE}-byte block; ext4 without ea_inode cannot store them`);
        }
        const data = encodeXattrBlock(entries);
        const key = createHash('sha256').update(data).digest('hex');
        let xb = shared.get(key);
        if (!xb || xb.refcount >= XATTR_REFCOUNT_MAX) {
          xb = { data, refcount: 0, blockNr: -1 };
          shared.set(key, xb);
          xattrBlocks.push(xb);
        }
        xb.refcount++;
        p.xattrBlock = xb;
      }
    }
    return p;
  });
  return { prepared, xattrBlocks };
}
