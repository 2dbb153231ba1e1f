/**
 * Sparse, sequential image output (ext4 images, tar archives): coalesces
 * writes to consecutive positions into large buffers (few big pwrite calls),
 * and at flush time skips every all-zero 4 KiB block, so zeros (untouched
 * ranges, zero-filled file blocks, empty inode-table slots) stay holes after
 * ftruncate. Every position must be written at most once (true for both).
 *
 * Two buffers: while one is written out (a pwrite on the libuv thread pool),
 * the caller fills the other, so reading file contents (synchronous reads
 * straight into the buffer, see `copyFrom`) overlaps writing the image.
 *
 * Dense outputs with the native addon gather instead: long copyFrom ranges
 * join the batch as mappings of their source, written with the buffered
 * bytes around them by one O_DIRECT pwritev (zero-copy.ts, gather.ts).
 */
import { readSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { DIRECT_ALIGN } from '../util/direct-io.js';
import { MAX_SEGMENTS, writeBatchTo } from './gather.js';
import { alignedPair, closeTarget, keepAligned, openTarget, pwriteAll, tryDirect, zeroCopyFor, type OutputOptions, type Target, type ZeroCopy } from './output-target.js';
import { nativeZeroCopy, type MappedRange, type NativeZeroCopy, type Segment } from './zero-copy.js';

export type { OutputOptions } from './output-target.js';

/** Size of each coalescing buffer. */
const BUFFER_SIZE = 8 << 20;
/**
 * copyFrom ranges at least this long join a gathered batch as mappings of
 * their source (zero-copy, see zero-copy.ts) when the output allows it;
 * shorter ones are copied into the buffer, where a mapping's mmap and munmap
 * would cost more than the copy. In the benchmark image 2,005 of 53k files
 * are this long and hold 81% of the bytes.
 */
export const ZERO_COPY_MIN = 64 << 10;
/** Granularity of hole detection (the filesystem block size). */
const SPARSE_UNIT = 4096;
const ZERO_UNIT = Buffer.alloc(SPARSE_UNIT);
/** True when buf[from, to) is all zero bytes. */
function isZero(buf: Buffer, from: number, to: number): boolean {
  return buf.compare(ZERO_UNIT, 0, to - from, from, to) === 0;
}

/** Where copyFrom reads: an open descriptor and a name for messages. */
export interface SourceFile {
  fd: number;
  name: string;
}

export class ImageOutput {
  /** Buffer byte i holds image byte start + i; bytes before `head` are not ours. */
  private buf: Buffer;
  /** The other buffer; free once `inflight` settled. */
  private spare: Buffer;
  /** The pending write of `spare`, if any. */
  private inflight: Promise<void> | null = null;
  private start = 0;
  private head = 0;
  private len = 0;
  private closed = false;
  /** Gathered batch (zero-copy only): finished pieces in image order, the open buffer run's start, mapped bytes, ranges to unmap. */
  private segs: Segment[] = [];
  private runFrom = 0;
  private mapped = 0;
  private ranges: MappedRange[] = [];
  private gathered = 0;

  private constructor(
    /** The image file, then its mirror if any: every byte goes to each. */
    private readonly targets: Target[],
    /** What is written, for messages ("ext4 image", "tar archive"). */
    private readonly what: string,
    /** Skip all-zero blocks (leave holes); false writes every byte, in one pwrite per buffer. */
    private readonly sparse: boolean,
    /** The two buffers (page-aligned when `direct`). */
    buffers: [Buffer, Buffer],
    /** Whether they are aligned ones, handed on to the next output by close(). */
    private readonly aligned: boolean,
    /** Zero-copy writes of long ranges, and the alignments they need; null: copy. */
    private readonly zeroCopy: ZeroCopy | null,
  ) {
    [this.buf, this.spare] = buffers;
  }

  /**
   * Creates (truncating) `path` with exactly `size` bytes, all holes. With
   * `sparse: false` every byte is written (a dense file; for streams of
   * mostly non-zero data, one large pwrite per buffer beats hole detection).
   *
   * Whole aligned blocks are written with O_DIRECT where the file system
   * allows it: an image written once is not copied through the page cache
   * (no page-cache allocation and writeback CPU, no eviction of the store's
   * cached layers), and the write costs little CPU while the next buffer fills.
   */
  static async create(path: string, size: number, what = 'image', opts: OutputOptions = {}): Promise<ImageOutput> {
    const targets: Target[] = [];
    let at = path;
    try {
      targets.push(await openTarget(path, size, opts));
      if (opts.mirror !== undefined) {
        at = opts.mirror;
        targets.push(await openTarget(opts.mirror, size, opts));
      }
      const bytes = BUFFER_SIZE + DIRECT_ALIGN;
      const aligned = targets.some((t) => t.direct) ? alignedPair(bytes) : null;
      if (!aligned) {
        // no page-aligned memory (address-space limit): through the page cache
        for (const t of targets) {
          await t.direct?.close().catch(() => undefined);
          t.direct = null;
        }
      }
      const buffers: [Buffer, Buffer] = aligned ?? [Buffer.allocUnsafe(bytes), Buffer.allocUnsafe(bytes)];
      const sparse = opts.sparse ?? true;
      const zeroCopy = !sparse && (opts.zeroCopy ?? true) ? zeroCopyFor(targets, opts.native === undefined ? nativeZeroCopy() : opts.native) : null;
      return new ImageOutput(targets, what, sparse, buffers, aligned !== null, zeroCopy);
    } catch (e) {
      for (const t of targets) await closeTarget(t).catch(() => undefined);
      throw new Oci2fsError(ErrorCode.IO, `Cannot create ${what} ${at}: ${(e as Error).message}. Check that the directory exists and is writable.`, { cause: e });
    }
  }

  /** Bytes queued as mappings of their source (zero-copy), so far. */
  get zeroCopiedBytes(): number {
    return this.gathered;
  }

  /** Whether whole blocks still go out through O_DIRECT (false: file system refused it, or not asked). */
  get directIo(): boolean {
    return this.targets[0].direct !== null;
  }

  /** Nothing queued (no buffered bytes, no gathered range). */
  private empty(): boolean {
    return this.len === this.head && this.mapped === 0;
  }

  /** True when the next byte at `pos` continues what is queued (no flush needed). */
  private continues(pos: number): boolean {
    return this.empty() || pos === this.start + this.len + this.mapped;
  }

  /**
   * Starts an empty buffer at image byte `pos` (buffer offsets congruent to
   * image offsets modulo DIRECT_ALIGN; gathered ranges, multiples of the
   * O_DIRECT alignment, keep them congruent modulo that alignment).
   */
  private begin(pos: number): void {
    this.head = pos % DIRECT_ALIGN;
    this.start = pos - this.head;
    this.len = this.head;
    this.runFrom = this.head;
  }

  /** Room left in the buffer. */
  private room(): number {
    return BUFFER_SIZE + this.head - this.len;
  }

  /** Queues `data` at byte `pos`. */
  async write(pos: number, data: Uint8Array): Promise<void> {
    if (!this.continues(pos)) await this.flush(true);
    let off = 0;
    while (off < data.length) {
      if (this.empty()) this.begin(pos + off);
      const n = Math.min(data.length - off, this.room());
      this.buf.set(data.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.room() === 0) await this.flush();
    }
  }

  /** Queues `length` zero bytes at byte `pos`. */
  async zero(pos: number, length: number): Promise<void> {
    if (!this.continues(pos)) await this.flush(true);
    let left = length;
    while (left > 0) {
      if (this.empty()) this.begin(pos + length - left);
      const n = Math.min(left, this.room());
      this.buf.fill(0, this.len, this.len + n);
      this.len += n;
      left -= n;
      if (this.room() === 0) await this.flush();
    }
  }

  /**
   * Queues `length` bytes read from `src` at `srcPos` at image byte `pos`.
   * With zero-copy on, the aligned middle of a long range joins the batch as
   * a mapping of the source (written from its pages by one pwritev with the
   * buffered bytes around it) and only its unaligned ends are read into the
   * buffer; otherwise all of it is read synchronously straight into the
   * buffer. The source is nearly always in the page cache (spilled layers).
   */
  async copyFrom(pos: number, src: SourceFile, srcPos: number, length: number): Promise<void> {
    const zc = this.zeroCopy;
    if (zc !== null && length >= ZERO_COPY_MIN) {
      const from = Math.ceil(pos / zc.align) * zc.align;
      const to = Math.floor((pos + length) / zc.align) * zc.align;
      const srcFrom = srcPos + (from - pos);
      if (to - from >= ZERO_COPY_MIN && srcFrom % zc.align === 0) {
        await this.readInto(pos, src, srcPos, from - pos);
        await this.gather(zc.native, from, src, srcFrom, to - from);
        await this.readInto(to, src, srcFrom + (to - from), pos + length - to);
        return;
      }
    }
    await this.readInto(pos, src, srcPos, length);
  }

  /** copyFrom through the buffer: synchronous reads straight into it. */
  private async readInto(pos: number, src: SourceFile, srcPos: number, length: number): Promise<void> {
    if (length === 0) return;
    if (!this.continues(pos)) await this.flush(true);
    let left = length;
    while (left > 0) {
      if (this.empty()) this.begin(pos + length - left);
      const want = Math.min(left, this.room());
      let got: number;
      try {
        got = readSync(src.fd, this.buf, this.len, want, srcPos + length - left);
      } catch (e) {
        throw new Oci2fsError(ErrorCode.IO, `Cannot read file contents from ${src.name}: ${(e as Error).message}`, { cause: e });
      }
      if (got === 0) {
        throw new Oci2fsError(ErrorCode.IO, `Cannot read ${length} bytes at offset ${srcPos} of ${src.name}: file ended early`);
      }
      this.len += got;
      left -= got;
      if (this.room() === 0) await this.flush();
    }
  }

  /**
   * Adds bytes [srcPos, srcPos + length) of `src` at image byte `pos` (both
   * aligned, length a multiple of the alignment) to the batch as a mapping:
   * made now, so the source descriptor may close before the write runs.
   */
  private async gather(native: NativeZeroCopy, pos: number, src: SourceFile, srcPos: number, length: number): Promise<void> {
    if (!this.continues(pos)) await this.flush(true);
    if (this.empty()) this.begin(pos);
    let range: MappedRange;
    try {
      range = native.mapRange(src.fd, srcPos, length);
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot read file contents from ${src.name}: ${(e as Error).message}`, { cause: e });
    }
    if (this.len > this.runFrom) this.segs.push(this.buf.subarray(this.runFrom, this.len));
    this.segs.push(range);
    this.ranges.push(range);
    this.mapped += length;
    this.gathered += length;
    this.runFrom = this.len;
    if (this.mapped >= BUFFER_SIZE || this.segs.length >= MAX_SEGMENTS) await this.flush();
  }

  /**
   * flush() in zero-copy mode: one pwritev of the batch per target, from an
   * aligned position to an aligned end. Bytes past the last aligned
   * boundary are carried into the next batch (its first block), except at
   * close, where an unaligned start or end goes through the page cache.
   */
  private async flushGathered(zc: ZeroCopy, final: boolean): Promise<void> {
    const first = this.start + this.head;
    const end = this.start + this.len + this.mapped;
    const run = this.len - this.runFrom;
    const carry = final || end % zc.align > run ? 0 : end % zc.align;
    const segs = this.segs;
    if (run - carry > 0) segs.push(this.buf.subarray(this.runFrom, this.len - carry));
    const ranges = this.ranges;
    const full = this.buf;
    const carried = full.subarray(this.len - carry, this.len);
    this.buf = this.spare;
    this.spare = full;
    this.segs = [];
    this.ranges = [];
    this.mapped = 0;
    this.len = this.head = this.runFrom = 0;
    if (carry > 0) {
      this.begin(end - carry);
      this.buf.set(carried, this.len);
      this.len += carry;
    }
    const job = (async () => {
      // every target's write settles before the ranges are unmapped (unmap refuses while one runs)
      const results = await Promise.allSettled(this.targets.map((t) => writeBatchTo(t, zc, segs, first, end - carry, this.what)));
      for (const r of ranges) zc.native.unmap(r);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    })();
    job.catch(() => undefined); // surfaced by the next flush or close
    this.inflight = job;
  }

  /**
   * Starts writing out what is queued (as runs of non-zero blocks, or as one
   * gathered batch in zero-copy mode) and switches buffers; `final` (close)
   * writes everything, carrying nothing over.
   */
  async flush(final = false): Promise<void> {
    if (this.inflight) {
      const prev = this.inflight;
      this.inflight = null;
      await prev;
    }
    if (this.empty()) return;
    if (this.zeroCopy) return this.flushGathered(this.zeroCopy, final);
    const runs: [number, number][] = [];
    let runStart = -1;
    let off = this.sparse ? this.head : this.len;
    if (!this.sparse) runs.push([this.head, this.len]);
    while (off < this.len) {
      // pieces end on absolute SPARSE_UNIT boundaries (start is aligned)
      const end = Math.min(this.len, off + SPARSE_UNIT - (off % SPARSE_UNIT));
      if (isZero(this.buf, off, end)) {
        if (runStart >= 0) runs.push([runStart, off]);
        runStart = -1;
      } else if (runStart < 0) {
        runStart = off;
      }
      off = end;
    }
    if (runStart >= 0) runs.push([runStart, this.len]);
    const full = this.buf;
    this.buf = this.spare;
    this.spare = full;
    const job = this.pwriteRuns(full, this.start, runs);
    job.catch(() => undefined); // surfaced by the next flush or close
    this.inflight = job;
    this.len = this.head = 0;
  }

  /** Writes the runs to every target (the image and its mirror at once). */
  private async pwriteRuns(buf: Buffer, base: number, runs: [number, number][]): Promise<void> {
    await Promise.all(this.targets.map((t) => this.pwriteRunsTo(t, buf, base, runs)));
  }

  private async pwriteRunsTo(t: Target, buf: Buffer, base: number, runs: [number, number][]): Promise<void> {
    try {
      for (const [from, to] of runs) {
        // whole aligned blocks through O_DIRECT, a partial first or last block through the page cache
        const a = t.direct ? Math.min(to, Math.ceil(from / DIRECT_ALIGN) * DIRECT_ALIGN) : to;
        const b = t.direct ? Math.max(a, Math.floor(to / DIRECT_ALIGN) * DIRECT_ALIGN) : to;
        await pwriteAll(t.fh, buf, from, a, base);
        if (b > a) await this.pwriteDirect(t, buf, a, b, base);
        await pwriteAll(t.fh, buf, b, to, base);
      }
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot write ${this.what} ${t.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** O_DIRECT write of whole blocks; a file system that refuses it (EINVAL) gets this and every later write buffered. */
  private async pwriteDirect(t: Target, buf: Buffer, from: number, to: number, base: number): Promise<void> {
    // a short O_DIRECT write ends on a block boundary; the loop goes on from there
    if (!(await tryDirect(t, (direct) => pwriteAll(direct, buf, from, to, base)))) await pwriteAll(t.fh, buf, from, to, base);
  }

  /**
   * Flushes, waits for every write, and closes. With `size`, the file is
   * first set to that length (an output whose size was not known up front,
   * or whose last blocks are zeros and so were never written).
   */
  async close(size?: number): Promise<void> {
    if (this.closed) return; // callers' error paths close again
    this.closed = true;
    try {
      await this.flush(true);
      await this.flush(true); // waits for the write the first flush started
      if (size !== undefined) for (const t of this.targets) await t.fh.truncate(size);
    } finally {
      const failed: unknown[] = [];
      for (const t of this.targets) await closeTarget(t).catch((e: unknown) => failed.push(e));
      if (failed.length > 0) throw failed[0];
      // no write is in flight any more (every flush awaited the previous one)
      if (this.aligned) keepAligned(this.buf, this.spare);
    }
  }
}
