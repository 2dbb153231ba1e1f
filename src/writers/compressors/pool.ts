/**
 * A small pool of worker threads that compress blocks in parallel. Callers
 * get one promise per block and await them in submission order, so output
 * never depends on which worker finished first. With `jobs <= 1` blocks are
 * compressed inline on the calling thread (same function, same bytes).
 *
 * Block buffers travel to the workers and back by transfer (never copied),
 * and callers can hand them back with `recycle` once written: steady-state
 * compression then allocates no block-sized memory (fresh 1 MiB buffers cost
 * page faults, GC pressure and cross-thread frees).
 */
import { Worker } from 'node:worker_threads';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { createBlockCompressor, type BlockCompressFn, type CompressorSpec } from './index.js';
import { srcUrl } from '../../util/src-url.js';
import { cpuClockMs } from '../../util/thread-cpu.js';

/**
 * Message to a worker: the block's bytes are `data[0, length)`; `out` is a
 * buffer the compressed bytes go into when they fit. Both are transferred.
 */
export interface PoolRequest {
  id: number;
  data: ArrayBuffer;
  length: number;
  out: ArrayBuffer;
}

/**
 * Answer from a worker: `data` and `out` handed back; the compressed bytes
 * are `out[0, length)`, or the input `data[0, length)` when it did not shrink.
 */
export interface PoolReply {
  id: number;
  data: ArrayBuffer;
  out: ArrayBuffer;
  length: number;
  compressed: boolean;
  error?: string;
  /** CPU time the worker thread used since its first block (it does nothing else), where the system has a thread clock. */
  cpuMs?: number;
  /** Otherwise: wall time of this block's compression. */
  ms?: number;
}

/** A compressed (or not-compressible) block. `data` is the caller's to keep (or to `recycle`). */
export interface BlockResult {
  data: Uint8Array;
  compressed: boolean;
  /** Buffers backing this result (input and output), for `recycle`. */
  buffers: ArrayBuffer[];
}

interface Pending {
  resolve: (r: BlockResult) => void;
  reject: (e: unknown) => void;
}

/** Free buffers kept per size at most (bounds the memory `recycle` holds). */
const MAX_FREE_PER_SIZE = 16;

/** Compresses blocks on `jobs` worker threads (or inline for jobs <= 1). */
export class CompressPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: PoolRequest[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly inline: BlockCompressFn | null;
  private readonly free = new Map<number, ArrayBuffer[]>();
  private nextId = 0;
  private failure: unknown = null;
  /** Milliseconds spent compressing inline, or by workers without a thread clock (wall time per call). */
  private callMs = 0;
  /** Each worker's CPU time since its first block, as of its latest reply. */
  private readonly workerCpuMs = new Map<Worker, number>();

  constructor(spec: CompressorSpec, jobs: number) {
    if (jobs <= 1 || spec.name === 'none') {
      this.inline = createBlockCompressor(spec);
      return;
    }
    this.inline = null;
    const url = srcUrl('writers/compressors/worker.js');
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

  /** Milliseconds of CPU spent compressing blocks so far, summed over threads (see worker.ts; wall time where the system has no thread clock). */
  get compressMs(): number {
    let ms = this.callMs;
    for (const v of this.workerCpuMs.values()) ms += v;
    return ms;
  }

  /** A buffer of exactly `size` bytes, reused when one is free. Its contents are arbitrary. */
  take(size: number): Uint8Array {
    const b = this.free.get(size)?.pop();
    return b ? new Uint8Array(b) : new Uint8Array(size);
  }

  /** Gives back a buffer from `take` that was not passed to `compress`. */
  give(block: Uint8Array): void {
    this.keep(block.buffer as ArrayBuffer);
  }

  /** Gives back a result's buffers once the caller is done with `r.data`. */
  recycle(r: BlockResult): void {
    for (const b of r.buffers) this.keep(b);
  }

  private keep(b: ArrayBuffer): void {
    if (!(b instanceof ArrayBuffer) || b.byteLength === 0) return;
    let list = this.free.get(b.byteLength);
    if (!list) this.free.set(b.byteLength, (list = []));
    if (list.length < MAX_FREE_PER_SIZE) list.push(b);
  }

  /**
   * Compresses `block`. Ownership of the block's whole underlying buffer
   * passes to the pool (it may be detached); the result carries it back.
   */
  compress(block: Uint8Array): Promise<BlockResult> {
    if (this.inline) {
      try {
        const started = cpuClockMs();
        const out = this.inline(block);
        this.callMs += cpuClockMs() - started;
        const buffers = block.byteOffset === 0 ? [block.buffer as ArrayBuffer] : [];
        return Promise.resolve(out ? { data: out, compressed: true, buffers } : { data: block, compressed: false, buffers });
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.failure) return Promise.reject(this.failure);
    const own = block.byteOffset === 0 && block.buffer instanceof ArrayBuffer;
    const data = (own ? block.buffer : block.slice().buffer) as ArrayBuffer;
    const out = this.take(data.byteLength).buffer as ArrayBuffer;
    const req: PoolRequest = { id: this.nextId++, data, length: block.length, out };
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
      w.postMessage(req, [req.data, req.out]);
    }
  }

  private onReply(w: Worker, reply: PoolReply): void {
    this.idle.push(w);
    if (reply.cpuMs !== undefined) this.workerCpuMs.set(w, reply.cpuMs);
    this.callMs += reply.ms ?? 0;
    const p = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if (p) {
      if (reply.error) {
        p.reject(new Oci2fsError(ErrorCode.COMPRESSION, `Compressing a squashfs block failed: ${reply.error}`));
      } else {
        const from = reply.compressed ? reply.out : reply.data;
        p.resolve({ data: new Uint8Array(from, 0, reply.length), compressed: reply.compressed, buffers: [reply.data, reply.out] });
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
    this.free.clear();
    await Promise.all(ws.map((w) => { w.removeAllListeners('exit'); return w.terminate(); }));
  }
}
