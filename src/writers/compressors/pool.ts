/**
 * A small pool of worker threads that compress blocks in parallel. Callers
 * get one promise per block and await them in submission order, so output
 * never depends on which worker finished first. With `jobs <= 1` blocks are
 * compressed inline on the calling thread (same function, same bytes).
 */
import { Worker } from 'node:worker_threads';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { createBlockCompressor, type BlockCompressFn, type CompressorSpec } from './index.js';

/** Message to a worker: the block's bytes are `data[0, length)`; `data` is transferred. */
export interface PoolRequest {
  id: number;
  data: ArrayBuffer;
  length: number;
}

/** Answer from a worker: compressed bytes, or the input handed back when it did not shrink. */
export interface PoolReply {
  id: number;
  data: ArrayBuffer;
  length: number;
  compressed: boolean;
  error?: string;
}

/** A compressed (or not-compressible) block. `data` is the caller's to keep. */
export interface BlockResult {
  data: Uint8Array;
  compressed: boolean;
}

interface Pending {
  resolve: (r: BlockResult) => void;
  reject: (e: unknown) => void;
}

/** Compresses blocks on `jobs` worker threads (or inline for jobs <= 1). */
export class CompressPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: PoolRequest[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly inline: BlockCompressFn | null;
  private nextId = 0;
  private failure: unknown = null;

  constructor(spec: CompressorSpec, jobs: number) {
    if (jobs <= 1 || spec.name === 'none') {
      this.inline = createBlockCompressor(spec);
      return;
    }
    this.inline = null;
    const url = new URL('./worker.js', import.meta.url);
    for (let i = 0; i < jobs; i++) {
      const w = new Worker(url, { workerData: spec });
      w.on('message', (reply: PoolReply) => this.onReply(w, reply));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`compressor worker exited with code ${code}`));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /**
   * Compresses `block`. Ownership of the block's bytes passes to the pool
   * (its buffer may be detached); the result carries them back.
   */
  compress(block: Uint8Array): Promise<BlockResult> {
    if (this.inline) {
      try {
        const out = this.inline(block);
        return Promise.resolve(out ? { data: out, compressed: true } : { data: block, compressed: false });
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.failure) return Promise.reject(this.failure);
    const exact = block.byteOffset === 0 && block.byteLength === block.buffer.byteLength && block.buffer instanceof ArrayBuffer;
    const data = (exact ? block.buffer : block.slice().buffer) as ArrayBuffer;
    const req: PoolRequest = { id: this.nextId++, data, length: block.length };
    return new Promise<BlockResult>((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      this.queue.push(req);
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      const w = this.idle.pop()!;
      const req = this.queue.shift()!;
      w.postMessage(req, [req.data]);
    }
  }

  private onReply(w: Worker, reply: PoolReply): void {
    this.idle.push(w);
    const p = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (p) {
      if (reply.error) {
        p.reject(new Oci2fsError(ErrorCode.COMPRESSION, `Compressing a squashfs block failed: ${reply.error}`));
      } else {
        p.resolve({ data: new Uint8Array(reply.data, 0, reply.length), compressed: reply.compressed });
      }
    }
    this.pump();
  }

  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = new Oci2fsError(ErrorCode.INTERNAL, `A compression worker failed: ${String(e)}`, { cause: e });
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }

  /** Stops the workers. Safe to call more than once. */
  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    this.idle.length = 0;
    await Promise.all(ws.map((w) => { w.removeAllListeners('exit'); return w.terminate(); }));
  }
}
