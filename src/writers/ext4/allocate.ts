/**
 * Block allocation: one forward cursor from the end of the packed
 * metadata, in inode order (xattr block on first use, data, then extent
 * tree blocks), skipping superblock-copy ranges. Data therefore lands in
 * the order it is written, which makes the output one sequential stream.
 */
import type { Geometry } from './geometry.js';
import { setUsed } from './geometry.js';
import { extentTreeBlockCount, normalizeExtents, type Extent } from './extent.js';
import type { Prepared, XattrBlock } from './prepare.js';

/** Outcome: `needed` is the block count the content would need at this geometry. */
export interface AllocResult {
  ok: boolean;
  needed: number;
  used: Uint8Array;
}

/** Allocates every block for `prepared` on `geom`; marks a copy of the used-map. */
export function allocate(geom: Geometry, prepared: Prepared[], xattrBlocks: XattrBlock[]): AllocResult {
  const used = geom.used.slice();
  const supers = geom.superRanges;
  let cursor = geom.dataStart;
  let si = 0;
  const run = (want: number): { start: number; len: number } => {
    for (;;) {
      while (si < supers.length && supers[si][0] + supers[si][1] <= cursor) si++;
      if (si < supers.length && supers[si][0] <= cursor) {
        cursor = supers[si][0] + supers[si][1];
        continue;
      }
      break;
    }
    const limit = si < supers.length ? supers[si][0] : Infinity;
    const len = Math.min(want, limit - cursor);
    const start = cursor;
    cursor += len;
    if (start + len <= geom.blocks) setUsed(used, start, len);
    return { start, len };
  };
  for (const xb of xattrBlocks) xb.blockNr = -1;
  for (const p of prepared) {
    if (p.xattrBlock && p.xattrBlock.blockNr < 0) p.xattrBlock.blockNr = run(1).start;
    const raw: Extent[] = [];
    for (const r of p.ranges) {
      let logical = r.start;
      let left = r.len;
      while (left > 0) {
        const got = run(left);
        raw.push({ logical, physical: got.start, len: got.len });
        logical += got.len;
        left -= got.len;
      }
    }
    p.extents = normalizeExtents(raw);
    p.treeBlocks = [];
    const nTree = extentTreeBlockCount(p.extents.length);
    for (let i = 0; i < nTree; i++) p.treeBlocks.push(run(1).start);
  }
  return { ok: cursor <= geom.blocks, needed: cursor, used };
}

/** Data blocks the content needs wherever it lands (lower bound: no tree-block splits). */
export function dataBlocksLowerBound(prepared: Prepared[], xattrBlocks: XattrBlock[]): number {
  let n = xattrBlocks.length;
  for (const p of prepared) {
    let extents = 0;
    for (const r of p.ranges) {
      n += r.len;
      extents += Math.ceil(r.len / 32768);
    }
    n += extentTreeBlockCount(extents);
  }
  return n;
}
