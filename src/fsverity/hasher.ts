/**
 * fs-verity file digests computed in user space (pure, streaming).
 *
 * Facts from the Linux kernel documentation (Documentation/filesystems/fsverity.rst)
 * and libfsverity: the file is split into `blockSize` blocks (the last one
 * zero-padded); each level of the Merkle tree is the concatenation of the
 * hashes of the blocks below it, itself split into zero-padded blocks; the
 * root hash is the hash of the single top block (all zeros for an empty
 * file; for a file of one block the data block itself is the top). The *file digest* is the hash of a 256-byte descriptor holding the
 * root hash and the data size. See docs/composefs.md.
 *
 * Memory is bounded: one pending data block plus one pending tree block per
 * level (a handful of levels even for terabyte files).
 */
import * as nodeCrypto from 'node:crypto';

/** One-shot hashing: crypto.hash (Node >= 20.12) avoids a Hash object per block. */
type OneShot = (alg: string, data: Uint8Array, enc: 'buffer') => Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;
import { Oci2fsError, ErrorCode } from '../errors.js';

/** Hash algorithms fs-verity supports, with their FS_VERITY_HASH_ALG_* ids (linux/fsverity.h). */
export const FSVERITY_HASH_ALGS = {
  sha256: { id: 1, size: 32 },
  sha512: { id: 2, size: 64 },
} as const;

export type FsverityAlgorithm = keyof typeof FSVERITY_HASH_ALGS;

/** Default Merkle tree block size (the page size on most systems; composefs requires it). */
export const FSVERITY_DEFAULT_BLOCK_SIZE = 4096;
/** fs-verity descriptor size in bytes (struct fsverity_descriptor). */
export const FSVERITY_DESCRIPTOR_SIZE = 256;
/** Descriptor format version (fsverity_descriptor.version). */
export const FSVERITY_DESCRIPTOR_VERSION = 1;
/** Offsets inside struct fsverity_descriptor. */
const DESC_VERSION = 0;
const DESC_HASH_ALG = 1;
const DESC_LOG_BLOCKSIZE = 2;
const DESC_SALT_SIZE = 3;
const DESC_DATA_SIZE = 8;
const DESC_ROOT_HASH = 16;
/** Smallest and largest block sizes accepted by the kernel (1 KiB .. 64 KiB). */
const MIN_BLOCK_SIZE = 1024;
const MAX_BLOCK_SIZE = 65536;

export interface FsverityOptions {
  /** Hash algorithm; default sha256. */
  algorithm?: FsverityAlgorithm;
  /** Merkle tree block size, a power of two in 1024..65536; default 4096. */
  blockSize?: number;
}

/** A streaming fs-verity digest computation. */
export interface FsverityHasher {
  /** Feeds the next bytes of the file. */
  update(chunk: Uint8Array): void;
  /**
   * Feeds precomputed level-0 hashes (one per data block, `hashSize` bytes
   * each) standing for `bytes` bytes of data. Only on a block boundary (all
   * previous input a multiple of the block size); a `bytes` that is not a
   * multiple of the block size ends the data (its last block zero-padded).
   */
  updateLeafHashes(hashes: Uint8Array, bytes: number): void;
  /** Finishes and returns the fs-verity file digest (raw bytes). Call once. */
  digest(): Buffer;
}

interface Level {
  buf: Buffer;
  fill: number;
  /** Completed (full) blocks already hashed into the next level. */
  done: number;
}

/**
 * Creates a streaming fs-verity hasher. The result equals
 * `fsverity digest --hash-alg=ALG --block-size=N` for the same bytes.
 */
export function createFsverityHasher(opts: FsverityOptions = {}): FsverityHasher {
  const alg = opts.algorithm ?? 'sha256';
  const info = FSVERITY_HASH_ALGS[alg];
  if (!info) throw new Oci2fsError(ErrorCode.USAGE, `Unknown fs-verity hash algorithm ${String(alg)}; use sha256 or sha512`);
  const bs = opts.blockSize ?? FSVERITY_DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(bs) || bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)) !== 0) {
    throw new Oci2fsError(ErrorCode.USAGE, `Invalid fs-verity block size ${bs}: must be a power of two between ${MIN_BLOCK_SIZE} and ${MAX_BLOCK_SIZE}`);
  }
  const hs = info.size;
  const zeros = Buffer.alloc(bs);
  const pending = Buffer.alloc(bs);
  let pendingFill = 0;
  let dataSize = 0;
  let finished = false;
  const levels: Level[] = [];

  const hashOf = oneShot
    ? (data: Uint8Array): Buffer => oneShot(alg, data, 'buffer')
    : (data: Uint8Array): Buffer => nodeCrypto.createHash(alg).update(data).digest();

  /** Appends one hash to tree level `i`, cascading full blocks upward. */
  const push = (i: number, h: Buffer): void => {
    for (;;) {
      if (levels.length <= i) levels.push({ buf: Buffer.alloc(bs), fill: 0, done: 0 });
      const lv = levels[i];
      h.copy(lv.buf, lv.fill);
      lv.fill += hs;
      if (lv.fill + hs <= bs) return;
      // Block full (the remainder, if any, stays zero padding).
      lv.buf.fill(0, lv.fill);
      h = hashOf(lv.buf);
      lv.buf.fill(0);
      lv.fill = 0;
      lv.done++;
      i++;
    }
  };

  return {
    update(chunk: Uint8Array): void {
      if (finished) throw new Oci2fsError(ErrorCode.INTERNAL, 'fs-verity hasher used after digest()');
      let off = 0;
      const n = chunk.length;
      dataSize += n;
      if (pendingFill > 0) {
        const k = Math.min(bs - pendingFill, n);
        pending.set(chunk.subarray(0, k), pendingFill);
        pendingFill += k;
        off = k;
        if (pendingFill < bs) return;
        push(0, hashOf(pending));
        pendingFill = 0;
      }
      while (n - off >= bs) {
        push(0, hashOf(chunk.subarray(off, off + bs)));
        off += bs;
      }
      if (off < n) {
        pending.set(chunk.subarray(off), 0);
        pendingFill = n - off;
      }
    },

    updateLeafHashes(hashes: Uint8Array, bytes: number): void {
      if (finished) throw new Oci2fsError(ErrorCode.INTERNAL, 'fs-verity hasher used after digest()');
      if (pendingFill !== 0 || dataSize % bs !== 0 || hashes.length !== Math.ceil(bytes / bs) * hs) {
        throw new Oci2fsError(ErrorCode.INTERNAL, 'fs-verity leaf hashes fed off a block boundary or with a wrong count');
      }
      dataSize += bytes;
      const hb = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.length);
      for (let off = 0; off < hb.length; off += hs) push(0, hb.subarray(off, off + hs));
    },

    digest(): Buffer {
      if (finished) throw new Oci2fsError(ErrorCode.INTERNAL, 'fs-verity digest() called twice');
      finished = true;
      let root: Buffer = Buffer.alloc(hs);
      if (dataSize > 0) {
        if (pendingFill > 0) {
          pending.fill(0, pendingFill);
          push(0, hashOf(pending));
        }
        // A single data block is its own top: the root is its hash (no tree).
        if (dataSize <= bs) {
          root = Buffer.from(levels[0].buf.subarray(0, hs));
        }
        for (let i = 0; dataSize > bs; i++) {
          const lv = levels[i];
          const total = lv.done + (lv.fill > 0 ? 1 : 0);
          if (total === 1) {
            root = lv.fill > 0 ? hashOf(Buffer.concat([lv.buf.subarray(0, lv.fill), zeros.subarray(lv.fill)])) : Buffer.from(levels[i + 1].buf.subarray(0, hs));
            break;
          }
          if (lv.fill > 0) {
            const h = hashOf(Buffer.concat([lv.buf.subarray(0, lv.fill), zeros.subarray(lv.fill)]));
            lv.fill = 0;
            lv.done++;
            push(i + 1, h);
          }
        }
      }
      const desc = Buffer.alloc(FSVERITY_DESCRIPTOR_SIZE);
      desc[DESC_VERSION] = FSVERITY_DESCRIPTOR_VERSION;
      desc[DESC_HASH_ALG] = info.id;
      desc[DESC_LOG_BLOCKSIZE] = Math.log2(bs);
      desc[DESC_SALT_SIZE] = 0;
      desc.writeBigUInt64LE(BigInt(dataSize), DESC_DATA_SIZE);
      root.copy(desc, DESC_ROOT_HASH);
      return hashOf(desc);
    },
  };
}
