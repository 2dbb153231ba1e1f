/**
 * Publishing files atomically: write a uniquely named temp file, fsync it,
 * rename (or link, for create-if-absent) it into place, fsync the directory.
 * Readers see the old file or the new one, never a partial one; a process
 * killed midway leaves at most an orphan temp file.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Oci2fsError, ErrorCode } from '../errors.js';

/** A name no other process (on any host sharing the directory) will choose. */
export function uniqueSuffix(): string {
  return `${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}.${process.pid}.${randomBytes(6).toString('hex')}`;
}

/** fsync a directory so a rename/link/unlink in it is durable. Best effort on filesystems that refuse. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Some filesystems (and some NFS servers) reject fsync on a directory: not fatal.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EBADF' && code !== 'EPERM') throw ioError(`fsync ${dir}`, e);
  } finally {
    await fh?.close();
  }
}

/** Writes `bytes` to a new temp file in `tmpDir`, fsynced; returns its path. */
export async function writeTemp(tmpDir: string, prefix: string, bytes: Uint8Array): Promise<string> {
  const tmp = join(tmpDir, `${prefix}.tmp-${uniqueSuffix()}`);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw ioError(`write ${tmp}`, e);
  }
  await fh.close();
  return tmp;
}

/** Atomically replaces `path` with `bytes` (temp in `tmpDir`, same filesystem). */
export async function writeFileAtomic(path: string, bytes: Uint8Array, tmpDir: string): Promise<void> {
  const tmp = await writeTemp(tmpDir, basename(path), bytes);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw ioError(`rename ${tmp} to ${path}`, e);
  }
  await fsyncDir(dirname(path));
}

/**
 * Creates `path` with `bytes` only if it does not exist (link(2) fails with
 * EEXIST atomically, also on NFS). Returns false when it already existed.
 */
export async function createFileIfAbsent(path: string, bytes: Uint8Array, tmpDir: string): Promise<boolean> {
  const tmp = await writeTemp(tmpDir, basename(path), bytes);
  try {
    await link(tmp, path);
    await fsyncDir(dirname(path));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(`create ${path}`, e);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Wraps a Node fs error as E_IO with the operation named. */
export function ioError(what: string, e: unknown): Oci2fsError {
  if (e instanceof Oci2fsError) return e;
  return new Oci2fsError(ErrorCode.IO, `Cannot ${what}: ${(e as Error).message}`, { cause: e });
}
