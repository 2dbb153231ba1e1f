/**
 * Worker thread entry of the read-ahead (read-ahead.ts): reads the files in
 * `workerData` front to back with blocking reads into one buffer, so the
 * reads go on however busy the main thread is (writers make long runs of
 * synchronous calls there). Ends when everything is read, the budget is
 * spent, or the worker is terminated. Errors end it quietly: this is a hint.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import type { ReadAheadJob } from './read-ahead.js';

const job = workerData as ReadAheadJob;
const buf = Buffer.allocUnsafe(job.chunk);
let left = job.budget;
for (const f of job.files) {
  if (left <= 0) break;
  let fd: number;
  try {
    fd = openSync(f.path, 'r');
  } catch {
    continue;
  }
  try {
    for (let at = 0; at < f.size && left > 0; ) {
      const n = readSync(fd, buf, 0, buf.length, at);
      if (n === 0) break;
      at += n;
      left -= n;
    }
  } catch {
    // unreadable: the writer's own read will say why
  } finally {
    closeSync(fd);
  }
}
