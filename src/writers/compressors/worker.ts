/**
 * Worker thread body of the compression pool: rebuilds the compressor from
 * `workerData` and answers each block message with its compressed bytes,
 * copied into the `out` buffer the request brought. Messages carry
 * ArrayBuffers that are transferred, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createScratchCompressor, type CompressorSpec } from './index.js';
import type { PoolRequest, PoolReply } from './pool.js';
import { cpuClockMs } from '../../util/thread-cpu.js';

const compress = createScratchCompressor(workerData as CompressorSpec);
const port = parentPort;
if (!port) throw new Error('compressor worker started outside a worker thread');

port.on('message', (req: PoolRequest) => {
  let reply: PoolReply;
  const started = cpuClockMs();
  try {
    const out = compress(new Uint8Array(req.data, 0, req.length));
    if (out === null) {
      // Not smaller: hand the input back so the caller can store it uncompressed.
      reply = { id: req.id, data: req.data, out: req.out, length: req.length, compressed: false };
    } else {
      // Smaller than the input, so it fits `out` (as large as the input's buffer).
      let dest = req.out;
      if (dest.byteLength < out.length) dest = new ArrayBuffer(out.length);
      new Uint8Array(dest).set(out);
      reply = { id: req.id, data: req.data, out: dest, length: out.length, compressed: true };
    }
  } catch (e) {
    reply = { id: req.id, data: req.data, out: req.out, length: req.length, compressed: false, error: String((e as Error)?.stack ?? e) };
  }
  reply.ms = cpuClockMs() - started; // this thread's CPU time (util/thread-cpu.ts)
  port.postMessage(reply, [reply.data, reply.out]);
});
