/**
 * Streaming zstd decompression on the native binding (zstd-napi), driven in
 * a pull loop so output is produced only as fast as it is consumed (the
 * library's Transform stream pushes a whole input chunk's output at once,
 * which a bomb could make huge). Multiple frames and skippable frames are
 * handled by ZSTD_decompressStream itself (RFC 8878 §3.1).
 */
import { createRequire } from 'node:module';
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { RatioGuard } from './guard.js';

type ZstdBinding = typeof import('zstd-napi/binding.js');

const require = createRequire(import.meta.url);
let binding: ZstdBinding | undefined;

function loadBinding(): ZstdBinding {
  binding ??= require('zstd-napi/binding') as ZstdBinding;
  return binding;
}

/**
 * Largest window accepted: 2^27 = 128 MiB, zstd's own default limit
 * (ZSTD_WINDOWLOG_LIMIT_DEFAULT). Frames made with `--long=31` need more and
 * are rejected rather than letting a layer demand gigabytes of memory.
 */
export const ZSTD_WINDOW_LOG_MAX = 27;
/** Output buffer per decompressStream call (ZSTD_DStreamOutSize). */
export const ZSTD_OUT_CHUNK = 128 << 10;
/** Input slice per call, so a single call never produces unbounded output. */
export const ZSTD_IN_SLICE = 128 << 10;

function corrupt(label: string, e: unknown): Oci2fsError {
  const why = e instanceof Error ? e.message : String(e);
  if (/too much memory/i.test(why)) {
    return new Oci2fsError(
      ErrorCode.LIMIT,
      `${label}: zstd frame needs a window larger than ${1 << (ZSTD_WINDOW_LOG_MAX - 20)} MiB (made with \`zstd --long\`?); ` +
        'like the zstd CLI we refuse such frames by default — recompress the layer without --long',
      { cause: e },
    );
  }
  return new Oci2fsError(
    ErrorCode.COMPRESSION,
    `${label}: zstd stream is corrupt (${why}); re-fetch the layer`,
    { cause: e },
  );
}

/** Decompresses a zstd stream (one or more frames, skippable frames ignored). */
export async function* unzstd(source: AsyncIterable<Uint8Array>, guard: RatioGuard, label: string): AsyncGenerator<Uint8Array> {
  const z = loadBinding();
  const dctx = new z.DCtx();
  dctx.setParameter(z.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
  // True while a frame is started but not complete and fully flushed.
  let inFrame = false;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; at += ZSTD_IN_SLICE) {
      let input = chunk.subarray(at, Math.min(chunk.length, at + ZSTD_IN_SLICE));
      guard.addInput(input.length);
      for (;;) {
        const out = Buffer.allocUnsafe(ZSTD_OUT_CHUNK);
        let ret: number;
        let produced: number;
        let consumed: number;
        try {
          [ret, produced, consumed] = dctx.decompressStream(out, input);
        } catch (e) {
          throw corrupt(label, e);
        }
        input = input.subarray(consumed);
        // ret is 0 only on the call that completes a frame (a later call with
        // no input returns the next header's size hint, not 0).
        if (ret === 0) inFrame = false;
        else if (consumed > 0) inFrame = true;
        if (produced > 0) {
          guard.addOutput(produced);
          yield out.subarray(0, produced);
        }
        // Done with this slice when it is consumed and the decoder has no
        // more buffered output (it filled less than the whole buffer).
        if (input.length === 0 && produced < out.length) break;
        if (produced === 0 && consumed === 0) {
          throw new Oci2fsError(ErrorCode.INTERNAL, `${label}: zstd decoder made no progress`);
        }
      }
    }
  }
  if (inFrame) throw corrupt(label, new Error('stream ends inside a frame (truncated)'));
}
