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
 */
import { constants, open, type FileHandle } from 'node:fs/promises';
import { readSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { alignedBuffer, directUnsupported, DIRECT_ALIGN, O_DIRECT } from './direct-io.js';

/** Size of each coalescing buffer. */
const BUFFER_SIZE = 8 << 20;
/** Granularity of hole detection (the filesystem block size). */
const SPARSE_UNIT = 4096;
const ZERO_UNIT = Buffer.alloc(SPARSE_UNIT);
/**
 * Page-aligned buffers of closed outputs, for the next output of this
 * process: a WebAssembly memory is only released by the garbage collector,
 * and each holds gigabytes of reserved address space until then.
 */
const spareAligned: Buffer[] = [];
/** Spare aligned buffers kept at most (two per output). */
const MAX_SPARE_ALIGNED = 4;

function takeAligned(bytes: number): Buffer | null {
  const b = spareAligned.pop();
  return b && b.length === bytes ? b : alignedBuffer(bytes);
}

/** Two page-aligned buffers, or null when they cannot be had (an address-space limit). */
function alignedPair(bytes: number): [Buffer, Buffer] | null {
  const a = takeAligned(bytes);
  const b = a && takeAligned(bytes);
  if (a && b) return [a, b];
  if (a) spareAligned.push(a);
  return null;
}

/** True when buf[from, to) is all zero bytes. */
function isZero(buf: Buffer, from: number, to: number): boolean {
  return buf.compare(ZERO_UNIT, 0, to - from, from, to) === 0;
}

/** Where copyFrom reads: an open descriptor and a name for messages. */
export interface SourceFile {
  fd: number;
  name: string;
}

/** Opens `path` for writing with O_DIRECT (rejects with EINVAL where the file system refuses). */
function openDirect(path: string): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | O_DIRECT);
}

export interface OutputOptions {
  /** Skip all-zero blocks (default true). */
  sparse?: boolean;
  /**
   * Also write every byte to this file (created, truncated): a second copy
   * made while the image is written, at no cost in reading it back. The
   * cache writes its artifact and the user's output file at once this way
   * (convert/import.ts). The caller removes it when the write fails.
   */
  mirror?: string;
  /** Write whole blocks with O_DIRECT where possible (default true). */
  direct?: boolean;
  /** How the O_DIRECT handle is opened (tests stand in a file system that refuses it). */
  openDirect?: (path: string) => Promise<FileHandle>;
}

/** One file an ImageOutput writes. */
interface Target {
  fh: FileHandle;
  /** The same file opened with O_DIRECT, for whole aligned blocks; null when the file system refuses it. */
  direct: FileHandle | null;
  path: string;
}

/** Creates (truncating) `path` at `size` bytes and opens it for O_DIRECT too where allowed. */
async function openTarget(path: string, size: number, opts: OutputOptions): Promise<Target> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    let direct: FileHandle | null = null;
    if ((opts.direct ?? true) && O_DIRECT) {
      direct = await (opts.openDirect ?? openDirect)(path).catch((e: unknown) => {
        if (directUnsupported(e)) return null;
        throw e;
      });
    }
    return { fh, direct, path };
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

async function closeTarget(t: Target): Promise<void> {
  await t.direct?.close().catch(() => undefined);
  await t.fh.close();
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
      return new ImageOutput(targets, what, opts.sparse ?? true, buffers, aligned !== null);
    } catch (e) {
      for (const t of targets) await closeTarget(t).catch(() => undefined);
      throw new Oci2fsError(ErrorCode.IO, `Cannot create ${what} ${at}: ${(e as Error).message}. Check that the directory exists and is writable.`, { cause: e });
    }
  }

  /** Whether whole blocks still go out through O_DIRECT (false: file system refused it, or not asked). */
  get directIo(): boolean {
    return this.targets[0].direct !== null;
  }

  /** True when the next byte at `pos` continues the buffered run (no flush needed). */
  private continues(pos: number): boolean {
    return this.len === this.head || pos === this.start + this.len;
  }

  /** Starts an empty buffer at image byte `pos` (buffer offsets congruent to image offsets modulo DIRECT_ALIGN). */
  private begin(pos: number): void {
    this.head = pos % DIRECT_ALIGN;
    this.start = pos - this.head;
    this.len = this.head;
  }

  /** Room left in the buffer. */
  private room(): number {
    return BUFFER_SIZE + this.head - this.len;
  }

  /** Queues `data` at byte `pos`. */
  async write(pos: number, data: Uint8Array): Promise<void> {
    if (!this.continues(pos)) await this.flush();
    let off = 0;
    while (off < data.length) {
      if (this.len === this.head) this.begin(pos + off);
      const n = Math.min(data.length - off, this.room());
      this.buf.set(data.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.room() === 0) await this.flush();
    }
  }

  /** Queues `length` zero bytes at byte `pos`. */
  async zero(pos: number, length: number): Promise<void> {
    if (!this.continues(pos)) await this.flush();
    let left = length;
    while (left > 0) {
      if (this.len === this.head) this.begin(pos + length - left);
      const n = Math.min(left, this.room());
      this.buf.fill(0, this.len, this.len + n);
      this.len += n;
      left -= n;
      if (this.room() === 0) await this.flush();
    }
  }

  /**
   * Queues `length` bytes read from `src` at `srcPos` at image byte `pos`,
   * reading synchronously straight into the buffer (no intermediate copy).
   * The source is nearly always in the page cache (freshly spilled layers).
   */
  async copyFrom(pos: number, src: SourceFile, srcPos: number, length: number): Promise<void> {
    if (!this.continues(pos)) await this.flush();
    let left = length;
    while (left > 0) {
      if (this.len === this.head) this.begin(pos + length - left);
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

  /** Starts writing out what is buffered (as runs of non-zero blocks) and switches buffers. */
  async flush(): Promise<void> {
    if (this.inflight) {
      const prev = this.inflight;
      this.inflight = null;
      await prev;
    }
    if (this.len === this.head) return;
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
        await this.pwrite(t.fh, buf, from, a, base);
        if (b > a) await this.pwriteDirect(t, buf, a, b, base);
        await this.pwrite(t.fh, buf, b, to, base);
      }
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot write ${this.what} ${t.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  private async pwrite(fh: FileHandle, buf: Buffer, from: number, to: number, base: number): Promise<void> {
    let done = from;
    while (done < to) {
      const { bytesWritten } = await fh.write(buf, done, to - done, base + done);
      done += bytesWritten;
    }
  }

  /** O_DIRECT write of whole blocks; a file system that refuses it (EINVAL) gets this and every later write buffered. */
  private async pwriteDirect(t: Target, buf: Buffer, from: number, to: number, base: number): Promise<void> {
    const direct = t.direct;
    if (direct) {
      try {
        // a short O_DIRECT write ends on a block boundary; the loop goes on from there
        return await this.pwrite(direct, buf, from, to, base);
      } catch (e) {
        if (!directUnsupported(e)) throw e;
        t.direct = null;
        await direct.close().catch(() => undefined);
      }
    }
    await this.pwrite(t.fh, buf, from, to, base);
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
      await this.flush();
      await this.flush(); // waits for the write the first flush started
      if (size !== undefined) for (const t of this.targets) await t.fh.truncate(size);
    } finally {
      const failed: unknown[] = [];
      for (const t of this.targets) await closeTarget(t).catch((e: unknown) => failed.push(e));
      if (failed.length > 0) throw failed[0];
      // no write is in flight any more (every flush awaited the previous one)
      if (this.aligned && spareAligned.length + 2 <= MAX_SPARE_ALIGNED) spareAligned.push(this.buf, this.spare);
    }
  }
}
