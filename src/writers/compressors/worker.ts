/**
 * Worker thread body of the compression pool: rebuilds the compressor from
 * `workerData` and answers each block message with its compressed bytes,
 * copied into the `out` buffer the request brought. Messages carry
 * ArrayBuffers that are transferred, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createScratchCompressor, type CompressorSpec } from './index.js';
import type { PoolRequest, PoolReply } from './pool.js';
import { cpuClockMs, threadCpuMs } from '../../util/thread-cpu.js';

const compress = createScratchCompressor(workerData as CompressorSpec);
const port = parentPort;
if (!port) throw new Error('compressor worker started outside a worker thread');

/**
 * This thread's CPU clock when its first block arrived (null: no thread
 * clock here). Replies carry the CPU used since then, not the time of each
 * call: the kernel brings a running thread's CPU time up to date only at
 * scheduler ticks and switches, so a read right after the thread wakes for
 * a block and one ~2 ms later, before the next 4 ms tick, often differ by
 * nothing. Summed per call, 1 MiB zstd blocks read as about 60% of the CPU
 * perf sampled in these threads; one running total is off by a tick at most.
 */
let baseline: number | null | undefined;

port.on('message', (req: PoolRequest) => {
  let reply: PoolReply;
  if (baseline === undefined) baseline = threadCpuMs();
  const started = baseline === null ? cpuClockMs() : 0; // per-call wall time only without a thread clock
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
  if (baseline === null) reply.ms = cpuClockMs() - started;
  else reply.cpuMs = (threadCpuMs() ?? baseline) - baseline;
  port.postMessage(reply, [reply.data, reply.out]);
});
