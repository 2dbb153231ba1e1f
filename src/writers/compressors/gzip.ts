/**
 * squashfs "gzip" compressor: a zlib stream (RFC 1950: zlib header, deflate,
 * adler32), exactly what squashfs-tools' gzip_wrapper produces with
 * deflateInit2 and the kernel's zlib_wrapper inflates.
 */
import { deflateSync, constants } from 'node:zlib';
import type { BlockCompressFn, ScratchCompressFn } from './types.js';

/** Default level and window of mksquashfs' gzip compressor (gzip_wrapper.h). */
export const GZIP_DEFAULT_LEVEL = 9;
export const GZIP_WINDOW_BITS = 15;
export const GZIP_MIN_LEVEL = 1;
export const GZIP_MAX_LEVEL = 9;

/** A gzip block compressor at `level`. */
export function gzipCompressor(level: number): BlockCompressFn {
  const scratch = gzipScratchCompressor(level);
  return (data) => {
    const out = scratch(data);
    // deflateSync's Buffer may share its memory: copy so the result is ours alone.
    return out === null ? null : new Uint8Array(out);
  };
}

/** A gzip block compressor at `level` whose result may share memory with other Buffers. */
export function gzipScratchCompressor(level: number): ScratchCompressFn {
  return (data) => {
    const out = deflateSync(data, { level, windowBits: GZIP_WINDOW_BITS, strategy: constants.Z_DEFAULT_STRATEGY });
    return out.length < data.length ? out : null;
  };
}

/**
 * The gzip compressor options block (struct gzip_comp_opts: u32
 * compression_level, u16 window_size, u16 strategy), written by mksquashfs
 * only when something differs from the defaults (level 9, window 15, no
 * strategies). Returns null when defaults are used.
 */
export function gzipOptions(level: number): Uint8Array | null {
  if (level === GZIP_DEFAULT_LEVEL) return null;
  const b = Buffer.alloc(8);
  b.writeUInt32LE(level, 0);
  b.writeUInt16LE(GZIP_WINDOW_BITS, 4);
  b.writeUInt16LE(0, 6);
  return b;
}
