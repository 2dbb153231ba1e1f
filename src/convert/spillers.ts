/**
 * Who decodes a layer that does not spill in igzip and openssl processes
 * (zstd, small or plain-zlib layers): worker threads when there is enough
 * such work to pay for starting them, else the calling thread.
 */
import { decompressToFile, spillFitsProcesses, type DecompressToFileOptions } from '../compress/to-file.js';
import type { SpillTask } from '../compress/spill-worker.js';
import type { ProgressListener } from '../events.js';
import { WorkerPool } from '../util/worker-pool.js';
import { srcUrl } from '../util/src-url.js';

/**
 * Below this much compressed input in total, layers spill on the calling
 * thread: starting worker threads (~30 ms each) would cost more than it saves.
 */
export const SPILL_WORKER_MIN_BYTES = 16 << 20;

/** Runs decompressToFile on worker threads, or inline for small work. */
export interface Spiller {
  spill(srcPath: string, destPath: string, opts: DecompressToFileOptions): Promise<unknown>;
  close(): Promise<void>;
}

function inlineSpiller(): Spiller {
  return { spill: decompressToFile, close: async () => {} };
}

function workerSpiller(threads: number): Spiller {
  const pool = new WorkerPool<unknown>(srcUrl('compress/spill-worker.js'), threads, 'layer spill');
  return {
    spill: (srcPath, destPath, opts) => pool.run({ srcPath, destPath, opts } satisfies SpillTask),
    close: () => pool.close(),
  };
}

/**
 * A spiller made on first use: `threads` workers for `bytes` of compressed
 * input (the layers that need a thread of ours), or the calling thread when
 * that is one layer or too little work. Starting a pool is reported as the
 * stat `spill-threads`.
 */
export function lazySpiller(threads: number, bytes: number, events?: ProgressListener): { get(): Spiller; close(): Promise<void> } {
  let made: Spiller | undefined;
  return {
    get() {
      if (made) return made;
      const pool = threads > 1 && bytes >= SPILL_WORKER_MIN_BYTES;
      if (pool) events?.({ type: 'stat', name: 'spill-threads', value: threads });
      return (made = pool ? workerSpiller(threads) : inlineSpiller());
    },
    close: async () => made?.close(),
  };
}

/**
 * Whether a blob not there yet will likely spill in processes (decided for
 * real from its bytes once it is there): only sizes the worker pool.
 */
export function likelyInProcesses(l: { mediaType?: string; size?: number }, processes: boolean): boolean {
  return processes && spillFitsProcesses(l.size ?? 0, /gzip/.test(l.mediaType ?? '') ? 'gzip' : undefined);
}
