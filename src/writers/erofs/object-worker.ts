/** Worker thread entry: runs `storeObjects` batches (see object-store.ts). */
import { parentPort } from 'node:worker_threads';
import type { WorkerReply } from '../../fsverity/index.js';
import { storeObjects, type ObjectBatch, type ObjectBatchResult } from './object-store.js';

parentPort?.on('message', (batch: ObjectBatch) => {
  let reply: WorkerReply<ObjectBatchResult>;
  try {
    reply = { ok: true, result: storeObjects(batch) };
  } catch (e) {
    reply = { ok: false, message: (e as Error).message, code: (e as NodeJS.ErrnoException).code };
  }
  parentPort?.postMessage(reply);
});
