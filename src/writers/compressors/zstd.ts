/**
 * squashfs "zstd" compressor: one zstd frame per block (squashfs-tools
 * zstd_wrapper uses ZSTD_compressCCtx; the kernel decompresses with a
 * streaming DCtx), via the zstd-napi binding.
 */
import { Compressor } from 'zstd-napi';
import type { BlockCompressFn, ScratchCompressFn } from './types.js';

/** mksquashfs' default zstd level (zstd_wrapper.h ZSTD_DEFAULT_COMPRESSION_LEVEL). */
export const ZSTD_DEFAULT_LEVEL = 15;
export const ZSTD_MIN_LEVEL = 1;
export const ZSTD_MAX_LEVEL = 22;

/** A zstd block compressor at `level`. */
export function zstdCompressor(level: number): BlockCompressFn {
  const scratch = zstdScratchCompressor(level);
  return (data) => {
    const out = scratch(data);
    // zstd-napi may return a view into a reused buffer: copy so the result is ours alone.
    return out === null ? null : new Uint8Array(out);
  };
}

/** A zstd block compressor at `level` whose result may be a view into zstd-napi's buffers. */
export function zstdScratchCompressor(level: number): ScratchCompressFn {
  const c = new Compressor();
  c.setParameters({ compressionLevel: level });
  return (data) => {
    const out = c.compress(data);
    return out.length < data.length ? out : null;
  };
}

/** struct zstd_comp_opts (u32 compression_level), written only for a non-default level. */
export function zstdOptions(level: number): Uint8Array | null {
  if (level === ZSTD_DEFAULT_LEVEL) return null;
  const b = Buffer.alloc(4);
  b.writeUInt32LE(level, 0);
  return b;
}
