/**
 * Worker thread: level-0 fs-verity hashes (one hash per data block, the last
 * block zero-padded) of a byte range. The main thread builds the upper tree
 * levels from them (see parallel.ts).
 */
import * as nodeCrypto from 'node:crypto';
import { readPieces, piecesLength, type Piece } from './pieces.js';
import { serveTasks } from '../util/worker-pool.js';

/** Read buffer size: a multiple of every allowed block size, small enough to stay in cache (1 MiB reads cost 3x the kernel time). */
const READ_BUF = 1 << 16;

export interface LeafTask {
  pieces: Piece[];
  algorithm: 'sha256' | 'sha512';
  blockSize: number;
  hashSize: number;
}

type OneShot = (alg: string, data: Uint8Array, enc: 'buffer') => Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;

const buf = Buffer.allocUnsafe(READ_BUF);

function leaves(t: LeafTask): Uint8Array {
  const total = piecesLength(t.pieces);
  const bs = t.blockSize;
  const out = new Uint8Array(Math.ceil(total / bs) * t.hashSize);
  const h = oneShot ? (d: Uint8Array): Buffer => oneShot(t.algorithm, d, 'buffer') : (d: Uint8Array): Buffer => nodeCrypto.createHash(t.algorithm).update(d).digest();
  let o = 0;
  readPieces(t.pieces, buf, (chunk) => {
    let off = 0;
    for (; off + bs <= chunk.length; off += bs) {
      out.set(h(chunk.subarray(off, off + bs)), o);
      o += t.hashSize;
    }
    if (off < chunk.length) {
      // Last, partial block: zero-padded (only at the very end of the data).
      const last = Buffer.alloc(bs);
      chunk.copy(last, 0, off);
      out.set(h(last), o);
      o += t.hashSize;
    }
  });
  return out;
}

serveTasks(leaves, (digests) => [digests.buffer as ArrayBuffer]);
