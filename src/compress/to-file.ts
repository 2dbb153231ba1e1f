/**
 * Decompress a layer blob into an uncompressed tar file on disk while
 * computing its diffID (sha256 of the uncompressed bytes), atomically: the
 * bytes go to a temp file beside the destination, are fsynced, and renamed
 * into place only when complete and (if given) matching the expected diffID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Oci2fsError, ErrorCode, isOci2fsError } from '../errors.js';
import { DETECT_BYTES, detectCompression, type Compression } from './detect.js';
import { decoderStages, type DecompressOptions } from './decompress.js';
import { gzipCorrupt, isZlibError } from './gzip.js';

/** Buffered bytes before the write stream applies backpressure. */
export const WRITE_CHUNK = 1 << 20;

export interface DecompressToFileOptions extends DecompressOptions {
  /** "sha256:<hex>" the uncompressed bytes must hash to. */
  expectedDiffId?: string;
  /**
   * Skip the fsync of the data (default: fsync). The caller must make that
   * safe: `unsyncedMarker` is written and made durable before the rename, so
   * after a crash the file is known to need checking (see convert/unsynced.ts).
   */
  unsyncedMarker?: { path: string; content: string };
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
  let compression: Compression;
  try {
    compression = await detectFile(srcPath);
  } catch (e) {
    throw ioError(opts.label, `cannot read ${srcPath}`, e);
  }
  let out: FileHandle | undefined;
  try {
    out = await open(tmp, 'wx', 0o644);
  } catch (e) {
    throw ioError(opts.label, `cannot create ${tmp}`, e);
  }
  let done = false;
  try {
    const hash = createHash('sha256');
    let size = 0;
    const { stages, readChunk } = decoderStages(compression, opts);
    // Native streams end to end: decoding, hashing and writing overlap, and
    // backpressure bounds memory to a few chunks.
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline([
        createReadStream(srcPath, { highWaterMark: readChunk }),
        ...stages,
        tap,
        fileSink(out, opts.unsyncedMarker === undefined),
      ]);
    } catch (e) {
      if (isOci2fsError(e)) throw e;
      if (isZlibError(e)) throw gzipCorrupt(opts.label, e);
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
    if (opts.unsyncedMarker) {
      try {
        await writeDurably(opts.unsyncedMarker.path, opts.unsyncedMarker.content);
      } catch (e) {
        throw ioError(opts.label, `cannot write ${opts.unsyncedMarker.path}`, e);
      }
    }
    try {
      await rename(tmp, destPath);
    } catch (e) {
      throw ioError(opts.label, `cannot rename ${tmp} to ${destPath}`, e);
    }
    done = true;
    await syncDir(dirname(destPath));
    return { diffId, size, compression };
  } finally {
    if (out) await out.close().catch(() => {});
    if (!done) await unlink(tmp).catch(() => {});
  }
}

/**
 * Writes a stream's chunks to `fh` in order (one write in flight; up to
 * WRITE_CHUNK more buffered), and (with `fsync`) syncs before finishing.
 */
function fileSink(fh: FileHandle, fsync: boolean): Writable {
  return new Writable({
    highWaterMark: WRITE_CHUNK,
    write(chunk: Buffer, _enc, cb) {
      writeAll(fh, chunk).then(() => cb(), cb);
    },
    final(cb) {
      if (!fsync) return cb();
      fh.sync().then(() => cb(), cb);
    },
  });
}

/** Writes a small file and makes it and its name durable (fsync file and directory). */
async function writeDurably(path: string, content: string): Promise<void> {
  const fh = await open(path, 'w', 0o644);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDir(dirname(path));
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
    off += bytesWritten;
  }
}

/** The compression of a file, from its first bytes. */
async function detectFile(path: string): Promise<Compression> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(DETECT_BYTES);
    const { bytesRead } = await fh.read(head, 0, DETECT_BYTES, 0);
    return detectCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
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
