/**
 * Sparse, sequential image output: coalesces writes to consecutive
 * positions into large buffers (few big pwrite calls) and never writes
 * what was not given, so untouched ranges stay holes after ftruncate.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Oci2fsError, ErrorCode } from '../../errors.js';

/** Size of the coalescing buffer. */
const BUFFER_SIZE = 8 << 20;

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

  /** Writes out what is buffered. */
  async flush(): Promise<void> {
    let done = 0;
    try {
      while (done < this.len) {
        const { bytesWritten } = await this.fh.write(this.buf, done, this.len - done, this.start + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot write ext4 image ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.len = 0;
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
