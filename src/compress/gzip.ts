/**
 * Streaming gzip decompression with node:zlib. createGunzip decodes
 * concatenated members (RFC 1952 §2.2, multi-member files, as made by
 * `cat a.gz b.gz` or pigz) and ignores NUL padding after the last member;
 * anything else after a member is an error. Input is fed in small slices so
 * one zlib call cannot produce more than ~GZIP_IN_SLICE * 1032 bytes.
 */
import { createGunzip } from 'node:zlib';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import { Oci2fsError, ErrorCode, isOci2fsError } from '../errors.js';
import type { RatioGuard } from './guard.js';

/** Input slice fed to zlib at once. */
export const GZIP_IN_SLICE = 64 << 10;
/** zlib output chunk size. */
export const GZIP_OUT_CHUNK = 1 << 20;

async function* slices(source: AsyncIterable<Uint8Array>, guard: RatioGuard): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; at += GZIP_IN_SLICE) {
      const s = chunk.subarray(at, Math.min(chunk.length, at + GZIP_IN_SLICE));
      guard.addInput(s.length);
      yield s;
    }
  }
}

/** True for errors raised by zlib itself (as opposed to the source). */
export function isZlibError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Decompresses a gzip stream (one or more members). */
export async function* gunzip(source: AsyncIterable<Uint8Array>, guard: RatioGuard, label: string): AsyncGenerator<Uint8Array> {
  const z = createGunzip({ chunkSize: GZIP_OUT_CHUNK });
  // Readable.from + pipeline: errors of either side destroy both, and
  // abandoning the iteration below destroys the pipeline.
  pipeline(Readable.from(slices(source, guard), { objectMode: false }), z, () => {});
  try {
    for await (const out of z as AsyncIterable<Buffer>) {
      guard.addOutput(out.length);
      yield out;
    }
  } catch (e) {
    if (isOci2fsError(e) || !isZlibError(e)) throw e;
    throw gzipCorrupt(label, e);
  } finally {
    z.destroy();
  }
}

/** The error for a zlib failure on `label`'s gzip stream. */
export function gzipCorrupt(label: string, e: unknown): Oci2fsError {
  return new Oci2fsError(ErrorCode.COMPRESSION, `${label}: gzip stream is corrupt (${(e as Error).message}); re-fetch the layer`, { cause: e });
}

/** A gzip decoder as a Transform stream (feed it at most GZIP_IN_SLICE bytes per chunk). */
export function createGunzipStream(): Transform {
  return createGunzip({ chunkSize: GZIP_OUT_CHUNK });
}
