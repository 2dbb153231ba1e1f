/**
 * Time rules of finalize (docs/determinism.md):
 *  - generated entries get `generatedTime`: SOURCE_DATE_EPOCH when given,
 *    else the newest mtime already in the tree (0 for an empty tree) — a
 *    function of the input, never the wall clock;
 *  - with SOURCE_DATE_EPOCH every mtime newer than it is clamped to it
 *    (reproducible-builds.org "clamping" semantics); older mtimes stay exact.
 */
import { forEachInode } from '../tree/types.js';
import type { DirInode } from '../tree/types.js';

export interface Time {
  sec: number;
  nsec: number;
}

/** Newest (sec, nsec) mtime in the tree; {0,0} when every mtime is older than the epoch. */
export function newestMtime(root: DirInode): Time {
  let best: Time = { sec: 0, nsec: 0 };
  forEachInode(root, (i) => {
    if (i.mtimeSec > best.sec || (i.mtimeSec === best.sec && i.mtimeNsec > best.nsec)) best = { sec: i.mtimeSec, nsec: i.mtimeNsec };
  });
  return best;
}

export function generatedTime(root: DirInode, sourceDateEpoch?: number): Time {
  return sourceDateEpoch !== undefined ? { sec: sourceDateEpoch, nsec: 0 } : newestMtime(root);
}

/** Clamps every mtime newer than `epoch` seconds to exactly `epoch`. Returns how many changed. */
export function clampMtimes(root: DirInode, epoch: number): number {
  let n = 0;
  const done = new Set<object>();
  forEachInode(root, (i) => {
    if (done.has(i)) return;
    done.add(i);
    if (i.mtimeSec > epoch || (i.mtimeSec === epoch && i.mtimeNsec > 0)) {
      i.mtimeSec = epoch;
      i.mtimeNsec = 0;
      n++;
    }
  });
  return n;
}
