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
import { open, type FileHandle } from 'node:fs/promises';
import { readSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';

/** Size of each coalescing buffer. */
const BUFFER_SIZE = 8 << 20;
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
  private buf = Buffer.allocUnsafe(BUFFER_SIZE);
  /** The other buffer; free once `inflight` settled. */
  private spare = Buffer.allocUnsafe(BUFFER_SIZE);
  /** The pending write of `spare`, if any. */
  private inflight: Promise<void> | null = null;
  private start = 0;
  private len = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    /** What is written, for messages ("ext4 image", "tar archive"). */
    private readonly what: string,
    /** Skip all-zero blocks (leave holes); false writes every byte, in one pwrite per buffer. */
    private readonly sparse: boolean,
  ) {}

  /**
   * Creates (truncating) `path` with exactly `size` bytes, all holes. With
   * `sparse: false` every byte is written (a dense file; for streams of
   * mostly non-zero data, one large pwrite per buffer beats hole detection).
   */
  static async create(path: string, size: number, what = 'image', opts: { sparse?: boolean } = {}): Promise<ImageOutput> {
    try {
      const fh = await open(path, 'w');
      await fh.truncate(size);
      return new ImageOutput(fh, path, what, opts.sparse ?? true);
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot create ${what} ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** True when the next byte at `pos` continues the buffered run (no flush needed). */
  private continues(pos: number): boolean {
    return this.len === 0 || pos === this.start + this.len;
  }

  /** Queues `data` at byte `pos`. */
  async write(pos: number, data: Uint8Array): Promise<void> {
    if (!this.continues(pos)) await this.flush();
    let off = 0;
    while (off < data.length) {
      if (this.len === 0) this.start = pos + off;
      const n = Math.min(data.length - off, BUFFER_SIZE - this.len);
      this.buf.set(data.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.len === BUFFER_SIZE) await this.flush();
    }
  }

  /** Queues `length` zero bytes at byte `pos`. */
  async zero(pos: number, length: number): Promise<void> {
    if (!this.continues(pos)) await this.flush();
    let left = length;
    while (left > 0) {
      if (this.len === 0) this.start = pos + length - left;
      const n = Math.min(left, BUFFER_SIZE - this.len);
      this.buf.fill(0, this.len, this.len + n);
      this.len += n;
      left -= n;
      if (this.len === BUFFER_SIZE) await this.flush();
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
      if (this.len === 0) this.start = pos + length - left;
      const want = Math.min(left, BUFFER_SIZE - this.len);
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
      if (this.len === BUFFER_SIZE) await this.flush();
    }
  }

  /** Starts writing out what is buffered (as runs of non-zero blocks) and switches buffers. */
  async flush(): Promise<void> {
    if (this.inflight) {
      const prev = this.inflight;
      this.inflight = null;
      await prev;
    }
    if (this.len === 0) return;
    const runs: [number, number][] = [];
    let runStart = -1;
    let off = this.sparse ? 0 : this.len;
    if (!this.sparse) runs.push([0, this.len]);
    while (off < this.len) {
      // pieces end on absolute SPARSE_UNIT boundaries
      const abs = this.start + off;
      const end = Math.min(this.len, off + SPARSE_UNIT - (abs % SPARSE_UNIT));
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
    this.len = 0;
  }

  private async pwriteRuns(buf: Buffer, base: number, runs: [number, number][]): Promise<void> {
    try {
      for (const [from, to] of runs) {
        let done = from;
        while (done < to) {
          const { bytesWritten } = await this.fh.write(buf, done, to - done, base + done);
          done += bytesWritten;
        }
      }
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot write ${this.what} ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Flushes, waits for every write, and closes. With `size`, the file is
   * first set to that length (an output whose size was not known up front,
   * or whose last blocks are zeros and so were never written).
   */
  async close(size?: number): Promise<void> {
    try {
      await this.flush();
      await this.flush(); // waits for the write the first flush started
      if (size !== undefined) await this.fh.truncate(size);
    } finally {
      await this.fh.close();
    }
  }
}
