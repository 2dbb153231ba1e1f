/**
 * Decompress a layer blob into an uncompressed tar file on disk while
 * computing its diffID (sha256 of the uncompressed bytes), atomically: the
 * bytes go to a temp file beside the destination, are fsynced, and renamed
 * into place only when complete and (if given) matching the expected diffID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Oci2fsError, ErrorCode, isOci2fsError } from '../errors.js';
import type { Compression } from './detect.js';
import { decompressAs, detectStream } from './decompress.js';

/** Read size of the compressed blob. */
export const READ_CHUNK = 1 << 20;

export interface DecompressToFileOptions {
  /** Names the layer in error messages. */
  label: string;
  /** "sha256:<hex>" the uncompressed bytes must hash to. */
  expectedDiffId?: string;
  maxRatio?: number;
  maxOutput?: number;
}

export interface DecompressToFileResult {
  /** "sha256:<hex>" of the uncompressed bytes. */
  diffId: string;
  /** Uncompressed size in bytes. */
  size: number;
  compression: Compression;
}

function ioError(label: string, what: string, e: unknown): Oci2fsError {
  return new Oci2fsError(ErrorCode.IO, `${label}: ${what}: ${(e as Error).message}`, { cause: e });
}

/**
 * Decompresses `srcPath` (gzip, zstd or uncompressed) to `destPath`. Writes
 * `destPath + ".tmp-<random>"`, fsyncs, renames. Throws E_DIGEST_MISMATCH
 * (temp deleted, destPath untouched) when expectedDiffId differs,
 * E_COMPRESSION / E_LIMIT from decompression, E_IO for file errors.
 */
export async function decompressToFile(
  srcPath: string,
  destPath: string,
  opts: DecompressToFileOptions,
): Promise<DecompressToFileResult> {
  const tmp = `${destPath}.tmp-${randomBytes(8).toString('hex')}`;
  const input = createReadStream(srcPath, { highWaterMark: READ_CHUNK });
  let out;
  try {
    out = await open(tmp, 'wx', 0o644);
  } catch (e) {
    input.destroy();
    throw ioError(opts.label, `cannot create ${tmp}`, e);
  }
  let done = false;
  try {
    const hash = createHash('sha256');
    let size = 0;
    let compression: Compression;
    try {
      const detected = await detectStream(input as AsyncIterable<Uint8Array>);
      compression = detected.compression;
      for await (const chunk of decompressAs(detected.stream, compression, opts)) {
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await out.write(chunk, off, chunk.length - off);
          off += bytesWritten;
        }
        size += chunk.length;
      }
      await out.sync();
    } catch (e) {
      if (isOci2fsError(e)) throw e;
      throw ioError(opts.label, `cannot decompress ${srcPath} to ${tmp}`, e);
    }
    const diffId = `sha256:${hash.digest('hex')}`;
    if (opts.expectedDiffId !== undefined && opts.expectedDiffId !== diffId) {
      throw new Oci2fsError(
        ErrorCode.DIGEST_MISMATCH,
        `${opts.label}: uncompressed layer has diffID ${diffId}, but the image config says ${opts.expectedDiffId}; ` +
          'the layer or config is corrupt or tampered with — re-fetch the image',
      );
    }
    await out.close();
    out = undefined;
    try {
      await rename(tmp, destPath);
    } catch (e) {
      throw ioError(opts.label, `cannot rename ${tmp} to ${destPath}`, e);
    }
    done = true;
    await syncDir(dirname(destPath));
    return { diffId, size, compression };
  } finally {
    input.destroy();
    if (out) await out.close().catch(() => {});
    if (!done) await unlink(tmp).catch(() => {});
  }
}

/** fsyncs a directory so a rename in it is durable (best effort). */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is done anyway.
  }
}
