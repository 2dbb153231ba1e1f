/**
 * Read-ahead of layer tars that were spilled by an earlier run.
 *
 * Writers read file contents from the spilled layer tars in the order of
 * their output (tree order for tar, dir, ext4 and squashfs), which jumps
 * between the tars: with a cold page cache each small read waits for the
 * disk on its own. Read front to back, the same files come in at the
 * device's sequential speed (the kernel reads ahead up to `read_ahead_kb`).
 * So while the tree is flattened and written, a worker thread pulls those
 * tars into the page cache, in layer order (the order flatten reads their
 * headers). See docs/tree.md, "Read-ahead of spilled layers".
 *
 * Only tars that already existed are read: one this run spilled is in the
 * page cache already. Nothing is read past half the memory the kernel
 * reports available, so read-ahead never evicts its own earlier reads, and
 * small images are not worth a thread.
 */
import { freemem } from 'node:os';
import { Worker } from 'node:worker_threads';
import { srcUrl } from '../util/src-url.js';
import { STREAM_BUFFER_BYTES } from '../util/stream-buffer.js';

/** Size of each read (small: see util/stream-buffer.ts; the kernel reads ahead of it). */
export const READ_AHEAD_CHUNK = STREAM_BUFFER_BYTES;
/** Below this much to read, no thread is started (a worker costs ~30 ms). */
export const READ_AHEAD_MIN_BYTES = 64 << 20;
/** Fraction of the available memory read ahead at most. */
const MEMORY_SHARE = 0.5;

/** What the worker is given. */
export interface ReadAheadJob {
  files: { path: string; size: number }[];
  chunk: number;
  budget: number;
}

export interface ReadAhead {
  /** Ends the read-ahead (at once; a read under way is abandoned). */
  stop(): Promise<void>;
  /** Settles when everything was read or the read-ahead was stopped. */
  done: Promise<void>;
}

/**
 * Starts reading `files` front to back, in the order given, up to `budget`
 * bytes in all (default: half the available memory). Returns at once.
 */
export function startReadAhead(files: { path: string; size: number }[], budget = freemem() * MEMORY_SHARE): ReadAhead {
  const total = files.reduce((a, f) => a + f.size, 0);
  if (total < READ_AHEAD_MIN_BYTES || budget <= 0) return { stop: async () => {}, done: Promise.resolve() };
  const job: ReadAheadJob = { files, chunk: READ_AHEAD_CHUNK, budget };
  const worker = new Worker(srcUrl('convert/read-ahead-worker.js'), { workerData: job });
  // a hint only: an error ends it, the writers' own reads report real problems
  const done = new Promise<void>((resolve) => {
    worker.once('error', () => resolve());
    worker.once('exit', () => resolve());
  });
  return {
    stop: async () => {
      await worker.terminate();
      await done;
    },
    done,
  };
}
