/**
 * Sparse, sequential image output: coalesces writes to consecutive
 * positions into large buffers (few big pwrite calls), and at flush time
 * skips every all-zero 4 KiB block, so zeros (untouched ranges, zero-filled
 * file blocks, empty inode-table slots) stay holes after ftruncate. Every
 * position must be written at most once (true for the ext4 writer).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Oci2fsError, ErrorCode } from '../../errors.js';

/** Size of the coalescing buffer. */
const BUFFER_SIZE = 8 << 20;
/** Granularity of hole detection (the filesystem block size). */
const SPARSE_UNIT = 4096;
const ZERO_UNIT = Buffer.alloc(SPARSE_UNIT);

/** True when buf[from, to) is all zero bytes. */
function isZero(buf: Buffer, from: number, to: number): boolean {
  return buf.compare(ZERO_UNIT, 0, to - from, from, to) === 0;
}

export class ImageOutput {
  private buf = Buffer.allocUnsafe(BUFFER_SIZE);
  private start = 0;
  private len = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
  ) {}

  /** Creates (truncating) `path` with exactly `size` bytes, all holes. */
  static async create(path: string, size: number): Promise<ImageOutput> {
    try {
      const fh = await open(path, 'w');
      await fh.truncate(size);
      return new ImageOutput(fh, path);
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot create ext4 image ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Queues `data` at byte `pos`. */
  async write(pos: number, data: Uint8Array): Promise<void> {
    if (this.len > 0 && pos !== this.start + this.len) await this.flush();
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

  /** Writes out what is buffered, as runs of non-zero blocks. */
  async flush(): Promise<void> {
    let runStart = -1;
    let off = 0;
    while (off < this.len) {
      // pieces end on absolute SPARSE_UNIT boundaries
      const abs = this.start + off;
      const end = Math.min(this.len, off + SPARSE_UNIT - (abs % SPARSE_UNIT));
      if (isZero(this.buf, off, end)) {
        if (runStart >= 0) await this.pwrite(runStart, off);
        runStart = -1;
      } else if (runStart < 0) {
        runStart = off;
      }
      off = end;
    }
    if (runStart >= 0) await this.pwrite(runStart, this.len);
    this.len = 0;
  }

  private async pwrite(from: number, to: number): Promise<void> {
    let done = from;
    try {
      while (done < to) {
        const { bytesWritten } = await this.fh.write(this.buf, done, to - done, this.start + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot write ext4 image ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.fh.close();
    }
  }
}
