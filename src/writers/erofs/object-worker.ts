/** Worker thread entry: runs `storeObjects` batches (see object-store.ts). */
import { parentPort } from 'node:worker_threads';
import { errorReply, type WorkerReply } from '../../util/worker-pool.js';
import { storeObjects, type ObjectBatch, type ObjectBatchResult } from './object-store.js';

parentPort?.on('message', (batch: ObjectBatch) => {
  let reply: WorkerReply<ObjectBatchResult>;
  try {
    reply = { ok: true, result: storeObjects(batch) };
  } catch (e) {
    reply = errorReply(e);
  }
  parentPort?.postMessage(reply);
});
