/**
 * Streaming zstd decompression on the native binding (zstd-napi), in input
 * slices of ZSTD_IN_SLICE with the ratio guard checked after every output
 * buffer (the library's own Transform pushes a whole input chunk's output at
 * once, which a bomb could make huge). Two faces of one decoder: a pull loop
 * (async generator) and a Transform for native pipelines. Multiple frames and
 * skippable frames are handled by ZSTD_decompressStream itself (RFC 8878 §3.1).
 */
import { createRequire } from 'node:module';
import { Transform } from 'node:stream';
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

/**
 * One zstd decoding context: feed() decodes a chunk of input (in slices, so a
 * single call never produces unbounded output), yielding output as it comes
 * and counting both sides in the guard; end() checks no frame is cut short.
 */
class ZstdDecoder {
  private readonly dctx;
  /** True while a frame is started but not complete and fully flushed. */
  private inFrame = false;

  constructor(
    private readonly guard: RatioGuard,
    private readonly label: string,
  ) {
    const z = loadBinding();
    this.dctx = new z.DCtx();
    this.dctx.setParameter(z.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
  }

  *feed(chunk: Uint8Array): Generator<Buffer> {
    for (let at = 0; at < chunk.length; at += ZSTD_IN_SLICE) {
      let input = chunk.subarray(at, Math.min(chunk.length, at + ZSTD_IN_SLICE));
      this.guard.addInput(input.length);
      for (;;) {
        const out = Buffer.allocUnsafe(ZSTD_OUT_CHUNK);
        let ret: number;
        let produced: number;
        let consumed: number;
        try {
          [ret, produced, consumed] = this.dctx.decompressStream(out, input);
        } catch (e) {
          throw corrupt(this.label, e);
        }
        input = input.subarray(consumed);
        // ret is 0 only on the call that completes a frame (a later call with
        // no input returns the next header's size hint, not 0).
        if (ret === 0) this.inFrame = false;
        else if (consumed > 0) this.inFrame = true;
        if (produced > 0) {
          this.guard.addOutput(produced);
          yield out.subarray(0, produced);
        }
        // Done with this slice when it is consumed and the decoder has no
        // more buffered output (it filled less than the whole buffer).
        if (input.length === 0 && produced < out.length) break;
        if (produced === 0 && consumed === 0) {
          throw new Oci2fsError(ErrorCode.INTERNAL, `${this.label}: zstd decoder made no progress`);
        }
      }
    }
  }

  end(): void {
    if (this.inFrame) throw corrupt(this.label, new Error('stream ends inside a frame (truncated)'));
  }
}

/** Decompresses a zstd stream (one or more frames, skippable frames ignored). */
export async function* unzstd(source: AsyncIterable<Uint8Array>, guard: RatioGuard, label: string): AsyncGenerator<Uint8Array> {
  const d = new ZstdDecoder(guard, label);
  for await (const chunk of source) yield* d.feed(chunk);
  d.end();
}

/**
 * The same decoder as a Transform stream, for pipelines of native streams
 * (the guard stops it: it throws inside feed() as soon as a limit is crossed).
 */
export function createUnzstd(guard: RatioGuard, label: string): Transform {
  const d = new ZstdDecoder(guard, label);
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        for (const out of d.feed(chunk)) this.push(out);
        done();
      } catch (e) {
        done(e as Error);
      }
    },
    flush(done) {
      try {
        d.end();
        done();
      } catch (e) {
        done(e as Error);
      }
    },
  });
}
