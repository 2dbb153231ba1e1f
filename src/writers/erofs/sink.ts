/**
 * Sequential image output: buffers small writes, flushes to a file handle
 * in ~1 MiB pieces, tracks the position, and optionally feeds an fs-verity
 * hasher with every byte (for the composefs image digest).
 */
import type { FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import type { FsverityHasher } from '../../fsverity/index.js';

const FLUSH_AT = 1 << 20;
/** Pieces at least this large are written without being copied into the pending buffer. */
const DIRECT_AT = 64 << 10;
const ZEROS = Buffer.alloc(1 << 16);

export class ImageSink {
  pos = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(private readonly fh: FileHandle, private readonly hasher?: FsverityHasher) {}

  /** Appends bytes (copied only when flushed; do not mutate `b` until then). */
  write(b: Uint8Array): void {
    if (b.length === 0) return;
    if (b.length >= DIRECT_AT) {
      // Large pieces (file data) go out directly instead of through a copy.
      this.flushSync();
      this.out(b);
      this.pos += b.length;
      return;
    }
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.pos += b.length;
  }

  /** Appends `n` zero bytes. */
  pad(n: number): void {
    while (n > 0) {
      const k = Math.min(n, ZEROS.length);
      this.write(ZEROS.subarray(0, k));
      n -= k;
    }
  }

  /** Pads with zeros up to a multiple of `a`. */
  align(a: number): void {
    const r = this.pos % a;
    if (r !== 0) this.pad(a - r);
  }

  /** Flushes when enough is buffered; call regularly from loops. */
  async drain(): Promise<void> {
    if (this.pendingBytes >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    this.flushSync();
  }

  private flushSync(): void {
    if (this.pendingBytes === 0) return;
    const buf = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.out(buf);
  }

  /**
   * Hashes and writes bytes now. Synchronous writes: a thread-pool round
   * trip per MiB cost more (idle main thread) than the copy into the page
   * cache itself.
   */
  private out(buf: Uint8Array): void {
    this.hasher?.update(buf);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fh.fd, buf, off, buf.length - off);
  }
}
