/**
 * Compressor registry: validates user choices into a `CompressorSpec`, makes
 * block compressors, and knows each one's squashfs id and options block.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { BlockCompressFn, CompressorName, CompressorSpec, ScratchCompressFn } from './types.js';
import { gzipCompressor, gzipScratchCompressor, gzipOptions, GZIP_DEFAULT_LEVEL, GZIP_MIN_LEVEL, GZIP_MAX_LEVEL } from './gzip.js';
import { zstdCompressor, zstdScratchCompressor, zstdOptions, ZSTD_DEFAULT_LEVEL, ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL } from './zstd.js';
import { lz4Compressor, lz4Options } from './lz4.js';

export type { BlockCompressFn, CompressorName, CompressorSpec, ScratchCompressFn } from './types.js';

/** squashfs compressor ids (kernel squashfs_fs.h ZLIB_COMPRESSION=1, LZ4_COMPRESSION=5, ZSTD_COMPRESSION=6). */
const SQUASHFS_ID: Record<CompressorName, number> = { gzip: 1, zstd: 6, lz4: 5, none: 1 };

/**
 * Applies defaults and checks ranges. `level` means the gzip level (1-9,
 * default 9) or zstd level (1-22, default 15); lz4 and none take no level.
 */
export function resolveCompressor(name: CompressorName = 'gzip', level?: number, lz4hc = false): CompressorSpec {
  const bad = (what: string): never => {
    throw new Oci2fsError(ErrorCode.USAGE, `Invalid squashfs compressor setting: ${what}`);
  };
  switch (name) {
    case 'gzip': {
      const l = level ?? GZIP_DEFAULT_LEVEL;
      if (!Number.isInteger(l) || l < GZIP_MIN_LEVEL || l > GZIP_MAX_LEVEL) bad(`gzip level ${l} (use ${GZIP_MIN_LEVEL}-${GZIP_MAX_LEVEL})`);
      return { name, level: l, lz4hc: false };
    }
    case 'zstd': {
      const l = level ?? ZSTD_DEFAULT_LEVEL;
      if (!Number.isInteger(l) || l < ZSTD_MIN_LEVEL || l > ZSTD_MAX_LEVEL) bad(`zstd level ${l} (use ${ZSTD_MIN_LEVEL}-${ZSTD_MAX_LEVEL})`);
      return { name, level: l, lz4hc: false };
    }
    case 'lz4':
      if (level !== undefined) bad('lz4 takes no level; use the lz4hc option for better compression');
      return { name, level: 0, lz4hc };
    case 'none':
      if (level !== undefined) bad('the none compressor takes no level');
      return { name, level: 0, lz4hc: false };
    default:
      return bad(`unknown compressor ${JSON.stringify(name)} (use gzip, zstd, lz4 or none)`);
  }
}

/** A synchronous block compressor for `spec` ('none' never compresses). */
export function createBlockCompressor(spec: CompressorSpec): BlockCompressFn {
  switch (spec.name) {
    case 'gzip': return gzipCompressor(spec.level);
    case 'zstd': return zstdCompressor(spec.level);
    case 'lz4': return lz4Compressor(spec.lz4hc);
    case 'none': return () => null;
  }
}

/** Like `createBlockCompressor`, but results may be views valid only until the next call (same bytes). */
export function createScratchCompressor(spec: CompressorSpec): ScratchCompressFn {
  switch (spec.name) {
    case 'gzip': return gzipScratchCompressor(spec.level);
    case 'zstd': return zstdScratchCompressor(spec.level);
    default: return createBlockCompressor(spec);
  }
}

/** The superblock compression id ('none' is gzip with every block stored uncompressed, as mksquashfs -noI -noD -noF -noX). */
export function compressorId(spec: CompressorSpec): number {
  return SQUASHFS_ID[spec.name];
}

/** The compressor options payload mksquashfs would write, or null when it writes none. */
export function compressorOptions(spec: CompressorSpec): Uint8Array | null {
  switch (spec.name) {
    case 'gzip': return gzipOptions(spec.level);
    case 'zstd': return zstdOptions(spec.level);
    case 'lz4': return lz4Options(spec.lz4hc);
    case 'none': return null;
  }
}
