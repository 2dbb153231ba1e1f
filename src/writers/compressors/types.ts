/**
 * Block compressors for the squashfs writer. A compressor is described by a
 * plain, serializable `CompressorSpec` (so worker threads can rebuild it) and
 * turned into a synchronous `BlockCompressFn` by `createBlockCompressor`.
 */

/** Compressors we can write. 'none' stores every block uncompressed. */
export type CompressorName = 'gzip' | 'zstd' | 'lz4' | 'none';

/** A fully resolved compressor choice (defaults applied, validated). */
export interface CompressorSpec {
  name: CompressorName;
  /** gzip 1..9, zstd 1..22; 0 for lz4/none. */
  level: number;
  /** lz4 only: high-compression mode (hash-chain search). */
  lz4hc: boolean;
}

/**
 * Compresses one block. Returns the compressed bytes, or `null` when the
 * result would not be smaller than the input (the block is then stored
 * uncompressed, as mksquashfs does). Never returns a view into `data`.
 */
export type BlockCompressFn = (data: Uint8Array) => Uint8Array | null;

/**
 * Like `BlockCompressFn`, but the result may be a view into the
 * compressor's own scratch memory, valid only until its next call (callers
 * copy it out at once). Saves a copy per block.
 */
export type ScratchCompressFn = (data: Uint8Array) => Uint8Array | null;
