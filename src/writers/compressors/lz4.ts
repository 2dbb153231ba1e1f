/**
 * squashfs "lz4" compressor: raw LZ4 block format per block (no frame),
 * produced by our own compressor in src/compress/lz4-block.ts.
 */
import { lz4CompressBlock } from '../../compress/lz4-block.js';
import type { BlockCompressFn } from './types.js';

/** struct lz4_comp_opts version: only LZ4_LEGACY (1) exists (kernel lz4_wrapper.c). */
export const LZ4_LEGACY = 1;
/** lz4_comp_opts flag: blocks were made with LZ4 high compression. */
export const LZ4_FLAG_HC = 1;

/** An lz4 block compressor; `hc` selects the slower hash-chain search. */
export function lz4Compressor(hc: boolean): BlockCompressFn {
  return (data) => {
    const out = lz4CompressBlock(data, hc);
    return out.length < data.length ? out : null;
  };
}

/**
 * struct lz4_comp_opts (u32 version, u32 flags). The kernel refuses lz4
 * images without it ("LZ4 compressed filesystems always have compression
 * options"), so it is always written.
 */
export function lz4Options(hc: boolean): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(LZ4_LEGACY, 0);
  b.writeUInt32LE(hc ? LZ4_FLAG_HC : 0, 4);
  return b;
}
