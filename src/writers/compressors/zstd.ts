/**
 * squashfs "zstd" compressor: one zstd frame per block (squashfs-tools
 * zstd_wrapper uses ZSTD_compressCCtx; the kernel decompresses with a
 * streaming DCtx), via the zstd-napi binding.
 */
import { createRequire } from 'node:module';
import { Compressor } from 'zstd-napi';
import type * as ZstdBinding from 'zstd-napi/binding.js';

/** zstd-napi's low-level binding (a CommonJS native module). */
const binding = createRequire(import.meta.url)('zstd-napi/binding') as typeof ZstdBinding;
import type { BlockCompressFn, ScratchCompressFn } from './types.js';

/** mksquashfs' default zstd level (zstd_wrapper.h ZSTD_DEFAULT_COMPRESSION_LEVEL). */
export const ZSTD_DEFAULT_LEVEL = 15;
export const ZSTD_MIN_LEVEL = 1;
export const ZSTD_MAX_LEVEL = 22;

/** A zstd block compressor at `level`. */
export function zstdCompressor(level: number): BlockCompressFn {
  const c = new Compressor();
  c.setParameters({ compressionLevel: level });
  return (data) => {
    const out = c.compress(data);
    // zstd-napi may return a view into a pooled buffer: copy so the result is ours alone.
    return out.length < data.length ? new Uint8Array(out) : null;
  };
}

/**
 * A zstd block compressor at `level` whose result is a view into its own
 * output buffer. It drives zstd-napi's documented low-level binding
 * (`ZSTD_compress2` on one CCtx, output capacity at least
 * `ZSTD_compressBound`), exactly the call `Compressor.compress` makes, so
 * the bytes are the same; but the output buffer is allocated once instead
 * of per block and not trimmed by copying.
 */
export function zstdScratchCompressor(level: number): ScratchCompressFn {
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, level);
  let dest = new Uint8Array(0);
  return (data) => {
    const bound = binding.compressBound(data.length);
    if (dest.length < bound) dest = new Uint8Array(bound);
    const n = cctx.compress2(dest, data);
    return n < data.length ? dest.subarray(0, n) : null;
  };
}

/** struct zstd_comp_opts (u32 compression_level), written only for a non-default level. */
export function zstdOptions(level: number): Uint8Array | null {
  if (level === ZSTD_DEFAULT_LEVEL) return null;
  const b = Buffer.alloc(4);
  b.writeUInt32LE(level, 0);
  return b;
}
