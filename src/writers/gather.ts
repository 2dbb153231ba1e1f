/**
 * Writing one gathered batch (zero-copy mode of ImageOutput, see
 * zero-copy.ts): buffered bytes and mapped source ranges, in image order,
 * as one pwritev per target.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { pwriteAll, tryDirect, type Target, type ZeroCopy } from './output-target.js';
import type { Segment } from './zero-copy.js';

/** A gathered batch is written once it holds this many pieces (pwritev takes IOV_MAX = 1024 at a time). */
export const MAX_SEGMENTS = 1000;

/**
 * Writes `segs` (image bytes [from, to)) to one target: an unaligned first
 * or last piece (only ever buffered bytes) through the page cache, the
 * rest with one O_DIRECT pwritev. Where O_DIRECT is refused (EINVAL), this
 * batch and every later one go through the page cache, mappings included.
 */
export async function writeBatchTo(t: Target, zc: ZeroCopy, segs: Segment[], from: number, to: number, what: string): Promise<void> {
  try {
    if (t.direct) {
      let list = segs;
      let at = from;
      let end = to;
      const lead = Math.min((zc.align - (from % zc.align)) % zc.align, to - from);
      if (lead > 0) {
        const head = segs[0] as Uint8Array;
        await pwriteAll(t.fh, head, 0, lead, at);
        list = [head.subarray(lead), ...segs.slice(1)];
        at += lead;
      }
      const trail = end > at ? end % zc.align : 0;
      if (trail > 0) {
        const last = list[list.length - 1] as Uint8Array;
        await pwriteAll(t.fh, last, last.length - trail, last.length, end - last.length);
        list = [...list.slice(0, -1), last.subarray(0, last.length - trail)];
        end -= trail;
      }
      if (end === at || (await tryDirect(t, (direct) => zc.native.writeSegments(direct.fd, at, list)))) return;
    }
    // no O_DIRECT (any more): the whole batch through the page cache
    await zc.native.writeSegments(t.fh.fd, from, segs);
  } catch (e) {
    const short = (e as NodeJS.ErrnoException).code === 'EFAULT' ? ' (a source file is shorter than the tree says)' : '';
    throw new Oci2fsError(ErrorCode.IO, `Cannot write ${what} ${t.path}: ${(e as Error).message}${short}`, { cause: e });
  }
}
