/**
 * Worker thread entry: decompresses one layer blob to a file (see
 * to-file.ts). Layers spill on worker threads so that decoders that run on
 * the calling thread (zstd), the diffID hash and the write loop of several
 * layers use every core, not just the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { errorReply, type WorkerReply } from '../util/worker-pool.js';
import { decompressToFile, type DecompressToFileOptions, type DecompressToFileResult } from './to-file.js';

/** One task: the arguments of decompressToFile. */
export interface SpillTask {
  srcPath: string;
  destPath: string;
  opts: DecompressToFileOptions;
}

parentPort?.on('message', (t: SpillTask) => {
  decompressToFile(t.srcPath, t.destPath, t.opts).then(
    (result) => parentPort?.postMessage({ ok: true, result } satisfies WorkerReply<DecompressToFileResult>),
    (e: unknown) => parentPort?.postMessage(errorReply(e)),
  );
});
