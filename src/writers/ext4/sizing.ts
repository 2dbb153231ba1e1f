/**
 * Choosing the image geometry: the smallest block count that holds the
 * content (found by allocating for real and growing to what the allocator
 * reports it needed), then headroom for automatic sizes, or a check
 * against an exact requested size. See docs/ext4.md "Size computation".
 */
import { Oci2fsError, ErrorCode, isOci2fsError } from '../../errors.js';
import { allocate, dataBlocksLowerBound, type AllocResult } from './allocate.js';
import { BLOCK_SIZE, BLOCKS_PER_GROUP } from './constants.js';
import { computeGeometry, MAX_INODES_PER_GROUP, metadataBlocks, type Geometry } from './geometry.js';
import type { Prepared, XattrBlock } from './prepare.js';

/** s_inodes_count is 32-bit. */
const MAX_INODES = 0xffffffff;
/** Smallest filesystem we make automatically (1 MiB). */
export const MIN_AUTO_BLOCKS = 256;
/** The kernel reserves about blocks/32 for itself (ext4_calculate_resv_clusters); automatic sizes add it. */
const KERNEL_RESERVE_DIVISOR = 32;
/** A few blocks so even an empty tree leaves room for directory growth. */
const SLACK_BLOCKS = 16;
/** Inodes added per free block for automatic inode counts: one per 16 KiB (mke2fs's inode_ratio). */
const FREE_BLOCKS_PER_INODE = 4;

export interface Sized {
  geom: Geometry;
  alloc: AllocResult;
}

function tryGeometry(blocks: number, inodes: number): Geometry | null {
  try {
    return computeGeometry(blocks, inodes);
  } catch (e) {
    if (isOci2fsError(e, ErrorCode.NO_SPACE)) return null;
    throw e;
  }
}

/** Geometry + allocation at exactly `blocks`, or null when the content does not fit. */
export function fitAt(blocks: number, inodes: number, usedInodes: number, prepared: Prepared[], xb: XattrBlock[]): Sized | null {
  const geom = tryGeometry(blocks, inodes);
  if (!geom || geom.inodesPerGroup * geom.groups < usedInodes) return null;
  const alloc = allocate(geom, prepared, xb);
  return alloc.ok ? { geom, alloc } : null;
}

/** The smallest block count (≥ `atLeast`) at which everything fits with `inodes` inodes. */
export function minimalFit(inodes: number, usedInodes: number, prepared: Prepared[], xb: XattrBlock[], atLeast = 1): Sized {
  const lower = dataBlocksLowerBound(prepared, xb);
  const groupsForInodes = Math.ceil(Math.max(inodes, usedInodes) / MAX_INODES_PER_GROUP);
  let blocks = Math.max(atLeast, lower + metadataBlocks(lower + 1, inodes), (groupsForInodes - 1) * BLOCKS_PER_GROUP + 1);
  for (let guard = 0; guard < 1000; guard++) {
    const geom = tryGeometry(blocks, inodes);
    if (!geom) {
      blocks += metadataBlocks(blocks, inodes);
      continue;
    }
    if (geom.inodesPerGroup * geom.groups < usedInodes) {
      blocks = geom.groups * BLOCKS_PER_GROUP + 1;
      continue;
    }
    const alloc = allocate(geom, prepared, xb);
    if (alloc.ok) return { geom, alloc };
    blocks = Math.max(blocks + 1, alloc.needed);
  }
  throw new Oci2fsError(ErrorCode.INTERNAL, 'ext4 size computation did not converge');
}

/** Picks geometry for the options. `usedInodes` is the highest inode number in use. */
export function chooseSize(
  opts: { size?: number; headroom?: number; inodes?: number },
  usedInodes: number,
  prepared: Prepared[],
  xb: XattrBlock[],
): Sized {
  const headroom = opts.headroom ?? 0.2;
  if (!(headroom >= 0) || !Number.isFinite(headroom)) throw new Oci2fsError(ErrorCode.USAGE, `ext4 headroom must be a non-negative number, got ${headroom}`);
  if (opts.inodes !== undefined && (!Number.isInteger(opts.inodes) || opts.inodes > MAX_INODES)) {
    throw new Oci2fsError(ErrorCode.USAGE, `ext4 inode count must be a whole number up to ${MAX_INODES}, got ${opts.inodes}`);
  }
  if (opts.inodes !== undefined && opts.inodes < usedInodes) {
    throw new Oci2fsError(ErrorCode.NO_SPACE, `ext4 inode count ${opts.inodes} is too small: the tree needs ${usedInodes} inodes (including 11 reserved); raise --inodes or leave it automatic`);
  }
  const lower = dataBlocksLowerBound(prepared, xb);
  const baseInodes = opts.inodes ?? Math.ceil(usedInodes * (1 + headroom));
  if (opts.size === undefined) {
    const extra = Math.ceil(lower * headroom);
    const inodes = opts.inodes ?? baseInodes + Math.ceil(extra / FREE_BLOCKS_PER_INODE);
    const min = minimalFit(inodes, usedInodes, prepared, xb);
    // headroom on the whole image, plus what the kernel keeps back for itself (s_resv_clusters ≈ 1/32)
    const free = Math.ceil(min.geom.blocks * headroom) + Math.ceil(min.geom.blocks / KERNEL_RESERVE_DIVISOR) + SLACK_BLOCKS;
    let blocks = Math.max(MIN_AUTO_BLOCKS, min.geom.blocks + free);
    for (;;) {
      const s = fitAt(blocks, inodes, usedInodes, prepared, xb);
      if (s) return s;
      blocks += Math.max(1, Math.ceil(blocks / 64));
    }
  }
  if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw new Oci2fsError(ErrorCode.USAGE, `ext4 size must be a whole number of bytes, got ${opts.size}`);
  const blocks = Math.floor(opts.size / BLOCK_SIZE);
  const min = minimalFit(baseInodes, usedInodes, prepared, xb);
  if (blocks < min.geom.blocks) {
    throw new Oci2fsError(
      ErrorCode.NO_SPACE,
      `The tree does not fit an ext4 image of ${opts.size} bytes: it needs at least ${min.geom.blocks * BLOCK_SIZE} bytes ` +
        `(${min.geom.blocks} blocks of ${BLOCK_SIZE}; ${lower} for data, ${usedInodes} inodes); use a larger size or the automatic size`,
    );
  }
  if (opts.inodes === undefined) {
    const more = baseInodes + Math.floor((blocks - min.geom.blocks) / FREE_BLOCKS_PER_INODE);
    const s = fitAt(blocks, more, usedInodes, prepared, xb);
    if (s) return s;
  }
  const s = fitAt(blocks, baseInodes, usedInodes, prepared, xb);
  if (s) return s;
  throw new Oci2fsError(ErrorCode.NO_SPACE, `The tree does not fit an ext4 image of ${opts.size} bytes (its layout at this size needs more); use a larger size`);
}
