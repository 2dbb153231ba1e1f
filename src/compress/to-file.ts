/**
 * Decompress a layer blob into an uncompressed tar file on disk while
 * computing its diffID (sha256 of the uncompressed bytes), atomically: the
 * bytes go to a temp file beside the destination, are fsynced, and renamed
 * (or linked, see keepTemp) into place only when complete and (if given)
 * matching the expected diffID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readSync } from 'node:fs';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { link, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Oci2fsError, ErrorCode, isOci2fsError } from '../errors.js';
import { DETECT_BYTES, detectCompression, type Compression } from './detect.js';
import { decoderStages, type DecompressOptions } from './decompress.js';
import { RatioGuard } from './guard.js';
import { endsWithTrailerFor, IGZIP_MIN_BYTES, igzipToFd, igzipTools } from './igzip.js';
import { directReadable } from '../util/direct-io.js';
import { opensslTool, sha256ByProcess } from './sha256-process.js';
import { nativeInflate, nativeSha256File, type InflateCapture, type NativeInflate } from './native-inflate.js';
import { gzipCorrupt, isZlibError } from './gzip.js';
import { STREAM_BUFFER_BYTES } from '../util/stream-buffer.js';

/** Read size when hashing a file igzip wrote (small: see util/stream-buffer.ts). */
const HASH_READ = STREAM_BUFFER_BYTES;

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
  /** gzip through ISA-L when there (default true): the addon's one-pass inflate (native-inflate.ts), else the igzip program (igzip.ts). */
  igzip?: boolean;
  /** With `igzip`: the addon's inflate when it has one (default true); false takes the igzip program; a function stands in for the addon's (tests). */
  nativeInflate?: boolean | NativeInflate;
  /** Smallest compressed size handed to igzip (default IGZIP_MIN_BYTES). */
  igzipMinBytes?: number;
  /**
   * Read the blob with O_DIRECT when igzip decodes it (see igzipToFd): for a
   * blob not expected in the page cache. Default false.
   */
  directRead?: boolean;
  /**
   * Hash igzip's output with openssl (sha256-process.ts) instead of on this
   * thread: for spills run from the main thread. Default false.
   */
  hashByProcess?: boolean;
  /** The temp name to decode into (default: destPath plus ".tmp-<random>"). */
  tmpPath?: string;
  /**
   * Called once igzip or the addon has written the whole tar to the temp
   * file and its verdict holds (see igzip.ts), before the diffID hash
   * (with the addon, only when it got a hashTurn): a reader may use
   * the temp file from then on, but nothing derived from it may be published
   * before decompressToFile resolved (it deletes the file if the check fails).
   * Gets the tar's metadata blocks when the addon decoded it and
   * `captureHeaders` asked for them.
   */
  onDecoded?: (captured?: InflateCapture) => void;
  /** Have the addon's inflate copy the tar's metadata blocks as they are decoded, for onDecoded (default false). */
  captureHeaders?: boolean;
  /**
   * Publish with link(2) instead of rename(2), leaving the temp name for the
   * caller to delete: readers that took the temp path from onDecoded keep a
   * valid name. Default false.
   */
  keepTemp?: boolean;
  /**
   * Runs the diffID hash of a tar decoded by ISA-L, after onDecoded: igzip's
   * output (by openssl with hashByProcess), or the addon's, which then only
   * decodes and hashes the written tar in this turn (sha256File, on a thread
   * of the addon). A caller uses it to choose when hashes start and how many
   * run at once (convert/layers.ts: once every layer is decoded, so the
   * hashes run while the writer waits on the disk). Without it the addon
   * hashes as it decodes; igzip's output is hashed at once.
   */
  hashTurn?: <T>(hash: () => Promise<T>) => Promise<T>;
}

export interface DecompressToFileResult {
  /** "sha256:<hex>" of the uncompressed bytes. */
  diffId: string;
  /** Uncompressed size in bytes. */
  size: number;
  compression: Compression;
  /** What decoded it: the addon's ISA-L inflate, the igzip program, or node's own decoders (zlib, zstd). */
  decoder: 'native' | 'igzip' | 'node';
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
  const tmp = opts.tmpPath ?? `${destPath}.tmp-${randomBytes(8).toString('hex')}`;
  let compression: Compression;
  try {
    compression = await detectFile(srcPath);
  } catch (e) {
    throw ioError(opts.label, `cannot read ${srcPath}`, e);
  }
  let done = false;
  try {
    const fast = compression === 'gzip' && opts.igzip !== false ? await viaIsal(srcPath, tmp, opts) : null;
    const decoded = fast ?? (await viaStreams(srcPath, tmp, compression, opts));
    const diffId = `sha256:${decoded.hex}`;
    if (opts.expectedDiffId !== undefined && opts.expectedDiffId !== diffId) {
      throw new Oci2fsError(
        ErrorCode.DIGEST_MISMATCH,
        `${opts.label}: uncompressed layer has diffID ${diffId}, but the image config says ${opts.expectedDiffId}; ` +
          'the layer or config is corrupt or tampered with — re-fetch the image',
      );
    }
    if (opts.unsyncedMarker) {
      try {
        await writeDurably(opts.unsyncedMarker.path, opts.unsyncedMarker.content);
      } catch (e) {
        throw ioError(opts.label, `cannot write ${opts.unsyncedMarker.path}`, e);
      }
    }
    try {
      if (!opts.keepTemp) await rename(tmp, destPath);
      // EEXIST: another process published the same verified diff first
      else await link(tmp, destPath).catch((e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? undefined : Promise.reject(e)));
    } catch (e) {
      throw ioError(opts.label, `cannot ${opts.keepTemp ? 'link' : 'rename'} ${tmp} to ${destPath}`, e);
    }
    done = true;
    await syncDir(dirname(destPath));
    return { diffId, size: decoded.size, compression, decoder: fast?.by ?? 'node' };
  } finally {
    if (!done) await unlink(tmp).catch(() => {});
  }
}

/** What a decode path wrote to the temp file (closed; fsynced unless a marker covers it). */
interface Decoded {
  hex: string;
  size: number;
}

/** What ISA-L decoded, and which of its two forms. */
interface IsalDecoded extends Decoded {
  by: 'native' | 'igzip';
}

/** Creates the temp file (exclusively: the name is random, a clash is a bug). */
async function createTemp(tmp: string, label: string): Promise<FileHandle> {
  try {
    return await open(tmp, 'wx+', 0o644); // read back to hash after igzip
  } catch (e) {
    throw ioError(label, `cannot create ${tmp}`, e);
  }
}

/**
 * gzip through ISA-L: the addon's one-pass inflate, which hashes as it
 * decodes (native-inflate.ts), or the igzip program, whose output is hashed
 * from the page cache afterwards (igzip.ts). Null when neither is there, the
 * layer is small, or its verdict needs zlib's (the temp file is then removed
 * again).
 */
async function viaIsal(srcPath: string, tmp: string, opts: DecompressToFileOptions): Promise<IsalDecoded | null> {
  const inflate = typeof opts.nativeInflate === 'function' ? opts.nativeInflate : opts.nativeInflate !== false ? nativeInflate() : null;
  const tools = inflate ? null : igzipTools();
  if (!inflate && !tools) return null;
  let inputSize: number;
  try {
    inputSize = (await stat(srcPath)).size;
  } catch (e) {
    throw ioError(opts.label, `cannot read ${srcPath}`, e);
  }
  if (inputSize < (opts.igzipMinBytes ?? IGZIP_MIN_BYTES)) return null;
  const guard = new RatioGuard(opts);
  guard.addInput(inputSize);
  const limit = guard.outputLimit(inputSize);
  const out = await createTemp(tmp, opts.label);
  let result: IsalDecoded | null = null;
  const direct = opts.directRead === true && (await directReadable(srcPath));
  try {
    if (inflate) {
      // a file system that opens for O_DIRECT but refuses the reads (EINVAL): read it the ordinary way
      const capture = opts.captureHeaders === true;
      // given a turn to hash in (hashTurn), the addon decodes only and hashes the tar from the page cache in that turn
      const later = opts.hashTurn ? nativeSha256File() : null;
      const outcome = await inflate(srcPath, out.fd, limit, direct, capture, later === null).catch((e: NodeJS.ErrnoException) =>
        direct && e.code === 'EINVAL' ? inflate(srcPath, out.fd, limit, false, capture, later === null) : Promise.reject(e),
      );
      // stopped at the limit: the guard's own E_LIMIT, as the zlib path would give
      if (outcome.kind === 'limit') guard.addOutput(limit + 1);
      if (outcome.kind === 'ok') {
        opts.onDecoded?.(outcome.headers);
        const hex = later ? await opts.hashTurn!(() => later(tmp, outcome.size)) : outcome.sha256;
        result = { hex, size: outcome.size, by: 'native' };
      }
    } else {
      const outcome = await igzipToFd(tools!, srcPath, out.fd, limit, direct);
      if (outcome.kind === 'limit') guard.addOutput(limit + 1);
      const size = outcome.kind === 'ok' ? (await out.stat()).size : 0; // igzip has exited: the file no longer changes
      if (outcome.kind === 'ok' && endsWithTrailerFor(srcPath, size)) {
        opts.onDecoded?.();
        const hash = (): Promise<Decoded> => hashOutput(out, tmp, size, opts);
        result = { ...(await (opts.hashTurn ? opts.hashTurn(hash) : hash())), by: 'igzip' };
      }
    }
    if (result && opts.unsyncedMarker === undefined) await out.sync();
  } catch (e) {
    if (isOci2fsError(e)) throw e;
    throw ioError(opts.label, `cannot decompress ${srcPath} to ${tmp}`, e);
  } finally {
    await out.close().catch(() => {});
    if (!result) await unlink(tmp).catch(() => {});
  }
  return result;
}

/** sha256 and size of igzip's output: by openssl when asked for and it works, else on this thread. */
async function hashOutput(out: FileHandle, path: string, size: number, opts: DecompressToFileOptions): Promise<Decoded> {
  const openssl = opts.hashByProcess ? opensslTool() : null;
  if (openssl) {
    const hex = await sha256ByProcess(openssl, path).catch(() => null);
    if (hex) return { hex, size };
  }
  return hashFd(out.fd);
}

/**
 * Whether decompressToFile with `hashByProcess` spills a blob of `size`
 * bytes and this compression entirely in other processes (igzip decodes,
 * openssl hashes), so the calling thread only feeds and waits: gzip, at
 * least `igzipMinBytes`, both tools installed. (A retry after igzip's
 * verdict still decodes with zlib.)
 */
export function spillFitsProcesses(size: number, compression: Compression | undefined, igzipMinBytes = IGZIP_MIN_BYTES): boolean {
  return compression === 'gzip' && size >= igzipMinBytes && (nativeInflate() !== null || (igzipTools() !== null && opensslTool() !== null));
}

/** spillFitsProcesses for the blob at `srcPath`, its compression read from its first bytes. */
export async function spillsInProcesses(srcPath: string, igzipMinBytes = IGZIP_MIN_BYTES): Promise<boolean> {
  if (!spillFitsProcesses(Infinity, 'gzip', igzipMinBytes)) return false; // tools missing: no I/O
  try {
    return spillFitsProcesses((await stat(srcPath)).size, await detectFile(srcPath), igzipMinBytes);
  } catch {
    return false; // decompressToFile reports it
  }
}

/** sha256 and size of a file's bytes, read through one reused buffer. */
function hashFd(fd: number): Decoded {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_READ);
  let size = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, HASH_READ, size);
    if (n === 0) break;
    hash.update(n === HASH_READ ? buf : buf.subarray(0, n));
    size += n;
  }
  return { hex: hash.digest('hex'), size };
}

/** Any compression through node's decoders, as native streams: decoding, hashing and writing overlap. */
async function viaStreams(srcPath: string, tmp: string, compression: Compression, opts: DecompressToFileOptions): Promise<Decoded> {
  const out = await createTemp(tmp, opts.label);
  try {
    const hash = createHash('sha256');
    let size = 0;
    const { stages, readChunk } = decoderStages(compression, opts);
    // Backpressure bounds memory to a few chunks.
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
    return { hex: hash.digest('hex'), size };
  } finally {
    await out.close().catch(() => {});
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
