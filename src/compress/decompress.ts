/**
 * Layer decompression: detect the format from the first bytes, then stream
 * through gzip, zstd or nothing, with the decompression-bomb guard.
 */
import { DETECT_BYTES, detectCompression, type Compression } from './detect.js';
import { RatioGuard, type GuardOptions } from './guard.js';
import { createGunzipStream, GZIP_IN_SLICE, gunzip } from './gzip.js';
import { createUnzstd, unzstd, ZSTD_IN_SLICE } from './zstd.js';
import { Transform } from 'node:stream';

export type DecompressOptions = GuardOptions;

/**
 * Reads the first DETECT_BYTES bytes (or fewer at EOF) of `source` and
 * returns them with an iterable that replays them followed by the rest.
 */
export async function peek(
  source: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; stream: AsyncIterable<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const buffered: Uint8Array[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    if (r.value.length === 0) continue;
    buffered.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(buffered).subarray(0, n);
  const stream = (async function* replay(): AsyncGenerator<Uint8Array> {
    try {
      yield* buffered;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      if (!ended) await it.return?.();
    }
  })();
  return { head, stream };
}

/**
 * Decompresses `source`, detecting gzip (incl. multi-member), zstd (incl.
 * multiple and skippable frames) or uncompressed input. The output is
 * pulled as fast as it is consumed. Throws E_COMPRESSION (naming
 * opts.label) for a corrupt or truncated stream and E_LIMIT when the output
 * exceeds maxOutput or maxRatio times the input (after the first 64 MiB).
 */
export async function* decompress(source: AsyncIterable<Uint8Array>, opts: DecompressOptions): AsyncGenerator<Uint8Array> {
  const { stream, compression } = await detectStream(source);
  yield* decompressAs(stream, compression, opts);
}

/** Detects the compression of `source`; `stream` replays it from the start. */
export async function detectStream(
  source: AsyncIterable<Uint8Array>,
): Promise<{ stream: AsyncIterable<Uint8Array>; compression: Compression }> {
  const { head, stream } = await peek(source, DETECT_BYTES);
  return { stream, compression: detectCompression(head) };
}

/** Decompresses `source` known to use `compression`. */
export async function* decompressAs(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  opts: DecompressOptions,
): AsyncGenerator<Uint8Array> {
  const guard = new RatioGuard(opts);
  switch (compression) {
    case 'gzip':
      yield* gunzip(source, guard, opts.label);
      return;
    case 'zstd':
      yield* unzstd(source, guard, opts.label);
      return;
    case 'none':
      for await (const chunk of source) {
        guard.addInput(chunk.length);
        guard.addOutput(chunk.length);
        yield chunk;
      }
      return;
  }
}

/** A pass-through stage that reports each chunk's length to `count`. */
function counter(count: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        count(chunk.length);
        done(null, chunk);
      } catch (e) {
        done(e as Error);
      }
    },
  });
}

/**
 * decompressAs as native stream stages, for pipelines: the Transforms to put
 * between the compressed source and the consumer, guard included, and the
 * chunk size the source should read (gzip's bound on output per zlib call).
 */
export function decoderStages(compression: Compression, opts: DecompressOptions): { stages: Transform[]; readChunk: number } {
  const guard = new RatioGuard(opts);
  switch (compression) {
    case 'gzip':
      return {
        stages: [counter((n) => guard.addInput(n)), createGunzipStream(), counter((n) => guard.addOutput(n))],
        readChunk: GZIP_IN_SLICE,
      };
    case 'zstd':
      // A Transform pushes all of a chunk's output at once: small chunks keep that bounded.
      return { stages: [createUnzstd(guard, opts.label)], readChunk: ZSTD_IN_SLICE };
    case 'none':
      return { stages: [counter((n) => (guard.addInput(n), guard.addOutput(n)))], readChunk: 1 << 20 };
  }
}
