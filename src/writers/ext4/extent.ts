/**
 * Extent trees (Documentation/filesystems/ext4/ifork.rst). Up to 4 extents
 * live in i_block (depth 0); more go to leaf blocks of 340 extents, indexed
 * from i_block, with further index levels while more than 4 nodes remain.
 * Every tree block ends with struct ext4_extent_tail (crc32c with the
 * inode's checksum seed over the block up to the tail).
 */
import {
  BLOCK_SIZE,
  EXTENT_ENTRY_SIZE,
  EXTENT_HEADER_SIZE,
  EXTENT_MAGIC,
  EXTENTS_IN_INODE,
  EXTENTS_PER_BLOCK,
  EXTENT_MAX_LEN,
  I_BLOCK_SIZE,
} from './constants.js';
import { crc32cRaw } from './crc32c.js';

/** A mapped run: `len` blocks at logical block `logical` stored at physical `physical`. */
export interface Extent {
  logical: number;
  physical: number;
  len: number;
}

/** Splits runs longer than EXTENT_MAX_LEN and merges touching ones. */
export function normalizeExtents(runs: Extent[]): Extent[] {
  const out: Extent[] = [];
  for (const r of runs) {
    let { logical, physical, len } = r;
    const last = out[out.length - 1];
    if (last && last.logical + last.len === logical && last.physical + last.len === physical && last.len < EXTENT_MAX_LEN) {
      const take = Math.min(len, EXTENT_MAX_LEN - last.len);
      last.len += take;
      logical += take;
      physical += take;
      len -= take;
    }
    while (len > 0) {
      const take = Math.min(len, EXTENT_MAX_LEN);
      out.push({ logical, physical, len: take });
      logical += take;
      physical += take;
      len -= take;
    }
  }
  return out;
}

/** Number of tree blocks (leaves + index blocks) needed for `n` extents. */
export function extentTreeBlockCount(n: number): number {
  let total = 0;
  let nodes = n;
  while (nodes > EXTENTS_IN_INODE) {
    nodes = Math.ceil(nodes / EXTENTS_PER_BLOCK);
    total += nodes;
  }
  return total;
}

function header(buf: DataView, off: number, entries: number, max: number, depth: number): void {
  buf.setUint16(off, EXTENT_MAGIC, true);
  buf.setUint16(off + 2, entries, true);
  buf.setUint16(off + 4, max, true);
  buf.setUint16(off + 6, depth, true);
  buf.setUint32(off + 8, 0, true); // eh_generation
}

const hi16 = (n: number): number => Math.floor(n / 0x1_0000_0000) & 0xffff;
const lo32 = (n: number): number => n % 0x1_0000_0000;

function putExtent(dv: DataView, off: number, e: Extent): void {
  dv.setUint32(off, e.logical, true);
  dv.setUint16(off + 4, e.len, true);
  dv.setUint16(off + 6, hi16(e.physical), true);
  dv.setUint32(off + 8, lo32(e.physical), true);
}

function putIndex(dv: DataView, off: number, logical: number, leaf: number): void {
  dv.setUint32(off, logical, true);
  dv.setUint32(off + 4, lo32(leaf), true);
  dv.setUint16(off + 8, hi16(leaf), true);
  dv.setUint16(off + 10, 0, true);
}

/** A finished tree block and where it goes. */
export interface TreeBlock {
  blockNr: number;
  data: Uint8Array;
}

/** Result of building a tree: the i_block bytes and the blocks to write. */
export interface ExtentTree {
  iBlock: Uint8Array;
  blocks: TreeBlock[];
}

/**
 * Builds the tree for `extents` (sorted, each ≤ EXTENT_MAX_LEN) using the
 * pre-allocated `treeBlocks` (exactly extentTreeBlockCount(n) numbers,
 * leaves first). `inodeSeed` is the per-inode checksum seed.
 */
export function buildExtentTree(extents: Extent[], treeBlocks: number[], inodeSeed: number): ExtentTree {
  const iBlock = new Uint8Array(I_BLOCK_SIZE);
  const idv = new DataView(iBlock.buffer);
  const blocks: TreeBlock[] = [];
  if (extents.length <= EXTENTS_IN_INODE) {
    header(idv, 0, extents.length, EXTENTS_IN_INODE, 0);
    extents.forEach((e, i) => putExtent(idv, EXTENT_HEADER_SIZE + i * EXTENT_ENTRY_SIZE, e));
    return { iBlock, blocks };
  }
  let next = 0;
  const seal = (data: Uint8Array): void => {
    const tail = EXTENT_HEADER_SIZE + EXTENTS_PER_BLOCK * EXTENT_ENTRY_SIZE;
    new DataView(data.buffer).setUint32(tail, crc32cRaw(inodeSeed, data, 0, tail), true);
  };
  // leaves
  let nodes: { logical: number; blockNr: number }[] = [];
  for (let i = 0; i < extents.length; i += EXTENTS_PER_BLOCK) {
    const chunk = extents.slice(i, i + EXTENTS_PER_BLOCK);
    const data = new Uint8Array(BLOCK_SIZE);
    const dv = new DataView(data.buffer);
    header(dv, 0, chunk.length, EXTENTS_PER_BLOCK, 0);
    chunk.forEach((e, k) => putExtent(dv, EXTENT_HEADER_SIZE + k * EXTENT_ENTRY_SIZE, e));
    seal(data);
    const blockNr = treeBlocks[next++];
    blocks.push({ blockNr, data });
    nodes.push({ logical: chunk[0].logical, blockNr });
  }
  let depth = 1;
  while (nodes.length > EXTENTS_IN_INODE) {
    const upper: typeof nodes = [];
    for (let i = 0; i < nodes.length; i += EXTENTS_PER_BLOCK) {
      const chunk = nodes.slice(i, i + EXTENTS_PER_BLOCK);
      const data = new Uint8Array(BLOCK_SIZE);
      const dv = new DataView(data.buffer);
      header(dv, 0, chunk.length, EXTENTS_PER_BLOCK, depth);
      chunk.forEach((n, k) => putIndex(dv, EXTENT_HEADER_SIZE + k * EXTENT_ENTRY_SIZE, n.logical, n.blockNr));
      seal(data);
      const blockNr = treeBlocks[next++];
      blocks.push({ blockNr, data });
      upper.push({ logical: chunk[0].logical, blockNr });
    }
    nodes = upper;
    depth++;
  }
  header(idv, 0, nodes.length, EXTENTS_IN_INODE, depth);
  nodes.forEach((n, k) => putIndex(idv, EXTENT_HEADER_SIZE + k * EXTENT_ENTRY_SIZE, n.logical, n.blockNr));
  return { iBlock, blocks };
}
