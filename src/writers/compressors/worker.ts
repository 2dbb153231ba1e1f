/**
 * Worker thread body of the compression pool: rebuilds the compressor from
 * `workerData` and answers each block message with its compressed bytes.
 * Messages carry ArrayBuffers that are transferred, not copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createBlockCompressor, type CompressorSpec } from './index.js';
import type { PoolRequest, PoolReply } from './pool.js';

const compress = createBlockCompressor(workerData as CompressorSpec);
const port = parentPort;
if (!port) throw new Error('compressor worker started outside a worker thread');

port.on('message', (req: PoolRequest) => {
  let reply: PoolReply;
  try {
    const out = compress(new Uint8Array(req.data, 0, req.length));
    if (out === null) {
      // Not smaller: hand the input back so the caller can store it uncompressed.
      reply = { id: req.id, data: req.data, length: req.length, compressed: false };
    } else {
      const exact = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
      const buf = (exact ? out.buffer : out.slice().buffer) as ArrayBuffer;
      reply = { id: req.id, data: buf, length: out.length, compressed: true };
    }
    port.postMessage(reply, [reply.data]);
  } catch (e) {
    reply = { id: req.id, data: req.data, length: req.length, compressed: false, error: String((e as Error)?.stack ?? e) };
    port.postMessage(reply, [reply.data]);
  }
});
