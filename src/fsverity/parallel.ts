/**
 * fs-verity digests of large files using worker threads: level-0 hashes
 * (one per data block, independent of each other) are computed for
 * contiguous block-aligned segments in parallel; the main thread feeds them,
 * in file order, into the streaming hasher, which builds the upper levels
 * (1/128 of the work for sha256/4096). The result does not depend on the
 * number of threads or on timing.
 */
import { statSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { createFsverityHasher, FSVERITY_DEFAULT_BLOCK_SIZE, FSVERITY_HASH_ALGS, type FsverityOptions } from './hasher.js';
import { WorkerPool, defaultThreads } from '../util/worker-pool.js';
import type { LeafTask } from './leaf-worker.js';
import { srcUrl } from '../util/src-url.js';

/** Files smaller than this are hashed on the calling thread (worker start-up costs more). */
export const PARALLEL_MIN_BYTES = 8 << 20;
/** Bytes per worker task: 32 MiB (256 KiB of sha256 leaf hashes at 4 KiB blocks). */
const SEGMENT_BYTES = 32 << 20;

export interface ParallelTuning {
  /** Worker threads; default one per available core. */
  threads?: number;
  /** Bytes per task, rounded down to a multiple of the block size. */
  segmentBytes?: number;
}

/**
 * fs-verity digest (hex) of `path` computed by worker threads. The file must
 * not change while it is read (it is read exactly to its size at open time).
 */
export async function fsverityDigestFileParallel(path: string, opts: FsverityOptions = {}, tuning: ParallelTuning = {}): Promise<string> {
  const hasher = createFsverityHasher(opts); // validates the options
  const algorithm = opts.algorithm ?? 'sha256';
  const bs = opts.blockSize ?? FSVERITY_DEFAULT_BLOCK_SIZE;
  const hashSize = FSVERITY_HASH_ALGS[algorithm].size;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new Oci2fsError(ErrorCode.IO, `Cannot open ${path} to compute its fs-verity digest: ${(e as Error).message}`, { cause: e });
  }
  const seg = Math.max(bs, Math.floor((tuning.segmentBytes ?? SEGMENT_BYTES) / bs) * bs);
  const threads = Math.max(1, tuning.threads ?? defaultThreads());
  const pool = new WorkerPool<Uint8Array>(srcUrl('fsverity/leaf-worker.js'), threads, 'fs-verity');
  try {
    const inflight: { promise: Promise<Uint8Array>; bytes: number }[] = [];
    let next = 0;
    const submit = (): void => {
      const bytes = Math.min(seg, size - next);
      const task: LeafTask = { pieces: [{ path, offset: next, length: bytes }], algorithm, blockSize: bs, hashSize };
      const promise = pool.run(task);
      promise.catch(() => undefined); // awaited in order below
      inflight.push({ promise, bytes });
      next += bytes;
    };
    while (next < size || inflight.length > 0) {
      while (next < size && inflight.length < 2 * threads) submit();
      const t = inflight.shift() as { promise: Promise<Uint8Array>; bytes: number };
      let hashes: Uint8Array;
      try {
        hashes = await t.promise;
      } catch (e) {
        throw new Oci2fsError(ErrorCode.IO, `Cannot read ${path} to compute its fs-verity digest: ${(e as Error).message}`, { cause: e });
      }
      hasher.updateLeafHashes(hashes, t.bytes);
    }
    return hasher.digest().toString('hex');
  } finally {
    await pool.close();
  }
}
