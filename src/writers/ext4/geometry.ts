/**
 * Block-group geometry and metadata placement (see docs/ext4.md).
 * 4 KiB blocks, 32768 blocks per group, s_first_data_block = 0. With
 * flex_bg all block bitmaps, then all inode bitmaps, then all inode tables
 * are packed right after the primary superblock + group descriptors,
 * skipping the backup superblock ranges (sparse_super: groups 0, 1 and
 * powers of 3, 5, 7). Pure.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { BLOCKS_PER_GROUP, BLOCK_SIZE, DESC_SIZE, INODES_PER_BLOCK, INODE_SIZE } from './constants.js';

/** Highest s_inodes_per_group: one bitmap block (kernel/e2fsck limit). */
export const MAX_INODES_PER_GROUP = BLOCK_SIZE * 8;

/** True when group `g` carries a superblock + GDT copy under sparse_super. */
export function groupHasSuper(g: number): boolean {
  if (g <= 1) return true;
  for (const base of [3, 5, 7]) {
    let p = base;
    while (p < g) p *= base;
    if (p === g) return true;
  }
  return false;
}

/** Filesystem geometry and where each group's metadata lives. */
export interface Geometry {
  blocks: number;
  groups: number;
  gdtBlocks: number;
  inodesPerGroup: number;
  inodeTableBlocks: number;
  blockBitmap: number[];
  inodeBitmap: number[];
  inodeTable: number[];
  /** Sorted [start, length) ranges holding superblock/GDT copies. */
  superRanges: [number, number][];
  /** First block after the packed metadata (where data allocation starts). */
  dataStart: number;
  /** In-use map of every block (bit set = used), groups * BLOCK_SIZE bytes. */
  used: Uint8Array;
}

/** Blocks a superblock copy + GDT occupy in a group that has one. */
export function superOverhead(groups: number): number {
  return 1 + Math.ceil((groups * DESC_SIZE) / BLOCK_SIZE);
}

/** Marks blocks [start, start+len) in use (whole bytes filled at once). */
export function setUsed(used: Uint8Array, start: number, len: number): void {
  let b = start;
  const end = start + len;
  while (b < end && (b & 7) !== 0) used[b >>> 3] |= 1 << (b++ & 7);
  if (end - b >= 8) {
    const whole = (end - b) >>> 3;
    used.fill(0xff, b >>> 3, (b >>> 3) + whole);
    b += whole * 8;
  }
  while (b < end) used[b >>> 3] |= 1 << (b++ & 7);
}

/** Inodes per group for a wanted total: a multiple of the inodes per block, ≥ 1 block. */
export function inodesPerGroupFor(inodes: number, groups: number): number {
  const per = Math.ceil(inodes / groups / INODES_PER_BLOCK) * INODES_PER_BLOCK;
  return Math.min(MAX_INODES_PER_GROUP, Math.max(INODES_PER_BLOCK, per));
}

/** Group count for `blocks`, dropping a last group too small for its superblock copy. */
export function groupsFor(blocks: number): { blocks: number; groups: number } {
  let groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  const lastSize = blocks - (groups - 1) * BLOCKS_PER_GROUP;
  if (groups > 1 && groupHasSuper(groups - 1) && lastSize <= superOverhead(groups)) {
    groups--;
    blocks = groups * BLOCKS_PER_GROUP;
  }
  return { blocks, groups };
}

/** Lays out metadata for `blocks` total blocks and at least `inodes` inodes. */
export function computeGeometry(requestedBlocks: number, inodes: number): Geometry {
  const { blocks, groups } = groupsFor(requestedBlocks);
  const gdtBlocks = Math.ceil((groups * DESC_SIZE) / BLOCK_SIZE);
  const inodesPerGroup = inodesPerGroupFor(inodes, groups);
  const inodeTableBlocks = (inodesPerGroup * INODE_SIZE) / BLOCK_SIZE;
  const used = new Uint8Array(groups * BLOCK_SIZE);
  const superRanges: [number, number][] = [];
  for (let g = 0; g < groups; g++) {
    if (groupHasSuper(g)) {
      superRanges.push([g * BLOCKS_PER_GROUP, 1 + gdtBlocks]);
      setUsed(used, g * BLOCKS_PER_GROUP, 1 + gdtBlocks);
    }
  }
  // blocks past the end of the last group read as in use (bitmap padding)
  setUsed(used, blocks, groups * BLOCKS_PER_GROUP - blocks);
  let cursor = 1 + gdtBlocks;
  const take = (len: number): number => {
    for (;;) {
      const hit = superRanges.find(([s, l]) => cursor < s + l && s < cursor + len);
      if (!hit) break;
      cursor = hit[0] + hit[1];
    }
    const start = cursor;
    cursor += len;
    if (cursor > blocks) {
      throw new Oci2fsError(ErrorCode.NO_SPACE, `ext4 metadata for ${groups} groups and ${inodesPerGroup * groups} inodes needs more than ${blocks} blocks`);
    }
    setUsed(used, start, len);
    return start;
  };
  const blockBitmap: number[] = [];
  const inodeBitmap: number[] = [];
  const inodeTable: number[] = [];
  for (let g = 0; g < groups; g++) blockBitmap.push(take(1));
  for (let g = 0; g < groups; g++) inodeBitmap.push(take(1));
  for (let g = 0; g < groups; g++) inodeTable.push(take(inodeTableBlocks));
  return { blocks, groups, gdtBlocks, inodesPerGroup, inodeTableBlocks, blockBitmap, inodeBitmap, inodeTable, superRanges, dataStart: cursor, used };
}

/** Metadata blocks (superblock copies, GDTs, bitmaps, inode tables) for a geometry. */
export function metadataBlocks(blocks: number, inodes: number): number {
  const { groups } = groupsFor(blocks);
  const ipg = inodesPerGroupFor(inodes, groups);
  let n = 0;
  for (let g = 0; g < groups; g++) if (groupHasSuper(g)) n += superOverhead(groups);
  return n + groups * (2 + (ipg * INODE_SIZE) / BLOCK_SIZE);
}
