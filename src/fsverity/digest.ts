/**
 * Convenience wrappers around the streaming fs-verity hasher: whole files,
 * async byte streams, and the `fsverity digest` output line format.
 */
import { open } from 'node:fs/promises';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { createFsverityHasher, type FsverityAlgorithm, type FsverityOptions } from './hasher.js';
import { fsverityDigestFileParallel, PARALLEL_MIN_BYTES } from './parallel.js';

/** Read size used when hashing files (a multiple of every allowed block size; 64 KiB stays in cache, 1 MiB reads cost 3x the kernel time). */
const READ_CHUNK = 1 << 16;

/** fs-verity digest (hex) of the bytes of an async iterable. */
export async function fsverityDigestStream(source: AsyncIterable<Uint8Array>, opts: FsverityOptions = {}): Promise<string> {
  const h = createFsverityHasher(opts);
  for await (const chunk of source) h.update(chunk);
  return h.digest().toString('hex');
}

/**
 * fs-verity digest (hex) of a file on disk: files of PARALLEL_MIN_BYTES and
 * more are hashed by worker threads (parallel.ts), smaller ones streamed
 * here in 64 KiB chunks.
 */
export async function fsverityDigestFile(path: string, opts: FsverityOptions = {}): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new Oci2fsError(ErrorCode.IO, `Cannot open ${path} to compute its fs-verity digest: ${(e as Error).message}`, { cause: e });
  }
  try {
    const h = createFsverityHasher(opts);
    if ((await fh.stat()).size >= PARALLEL_MIN_BYTES) {
      await fh.close();
      fh = undefined;
      return await fsverityDigestFileParallel(path, opts);
    }
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest().toString('hex');
  } finally {
    await fh?.close();
  }
}

/** The line `fsverity digest` prints for a file: `sha256:HEX PATH`. */
export function formatFsverityLine(hex: string, path: string, alg: FsverityAlgorithm = 'sha256'): string {
  return `${alg}:${hex} ${path}`;
}
