/**
 * Worker thread entry: decompresses one layer blob to a file (see
 * to-file.ts). Layers spill on worker threads so that decoders that run on
 * the calling thread (zstd), the diffID hash and the write loop of several
 * layers use every core, not just the main thread.
 */
import { serveTasks } from '../util/worker-pool.js';
import { decompressToFile, type DecompressToFileOptions } from './to-file.js';

/** One task: the arguments of decompressToFile. */
export interface SpillTask {
  srcPath: string;
  destPath: string;
  opts: DecompressToFileOptions;
}

serveTasks((t: SpillTask) => decompressToFile(t.srcPath, t.destPath, t.opts));
