/**
 * Sequential image output: collects small writes, hands them to an
 * ImageOutput (large buffers, whole blocks through O_DIRECT) in ~1 MiB
 * batches, tracks the position, and optionally feeds an fs-verity hasher
 * with every byte (for the composefs image digest).
 */
import type { FsverityHasher } from '../../fsverity/index.js';
import type { ImageOutput } from '../output.js';

/** Batch size: pending pieces are handed to the output once this much is queued. */
const FLUSH_AT = 1 << 20;
/** A piece this large (file data) is handed over at the next drain(), whatever is queued. */
const LARGE_PIECE = 64 << 10;
const ZEROS = Buffer.alloc(1 << 16);

export class ImageSink {
  pos = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes of `pending` already handed to the output (pending[0] is at written). */
  private written = 0;
  private large = false;

  constructor(private readonly out: ImageOutput, private readonly hasher?: FsverityHasher) {}

  /**
   * Appends bytes. They are not copied here: `b` must stay unchanged until
   * the next drain() or flush() (stream readers reuse nothing before that:
   * the serializer drains after every chunk it reads).
   */
  write(b: Uint8Array): void {
    if (b.length === 0) return;
    this.pending.push(b);
    this.pendingBytes += b.length;
    this.pos += b.length;
    if (b.length >= LARGE_PIECE) this.large = true;
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

  /** Hands queued bytes over when a batch is full or a large piece is queued; call after every write of borrowed data. */
  async drain(): Promise<void> {
    if (this.pendingBytes >= FLUSH_AT || this.large) await this.flush();
  }

  /** Hashes and hands over everything queued (the output copies it, so callers may reuse their buffers afterwards). */
  async flush(): Promise<void> {
    const pieces = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.large = false;
    for (const p of pieces) {
      this.hasher?.update(p);
      await this.out.write(this.written, p);
      this.written += p.length;
    }
  }
}
