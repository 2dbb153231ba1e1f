/**
 * Reading the bytes of a regular file from wherever its `Content` says they
 * live. Streams in bounded chunks; sparse holes are produced as zeros.
 */
import { openSync, readSync, closeSync, fstatSync, statSync, type Stats } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { Content, FileInode } from './types.js';

/** Largest chunk handed out by `readContent`. */
export const CONTENT_CHUNK = 1 << 20;

const ZEROS = new Uint8Array(CONTENT_CHUNK);

/** Yields runs of `n` zero bytes in chunks of at most CONTENT_CHUNK. */
function* zeros(n: number): Generator<Uint8Array> {
  while (n > 0) {
    const k = Math.min(n, CONTENT_CHUNK);
    yield ZEROS.subarray(0, k);
    n -= k;
  }
}

/** The host path of `file` content, as `fs` wants it (a Buffer for byte-string paths). */
export function hostPath(content: { path: string; pathIsBytes?: boolean }): string | Buffer {
  return content.pathIsBytes ? Buffer.from(content.path, 'latin1') : content.path;
}

/**
 * Open descriptors of content files, most recently used last. Tree contents
 * live in a few large files (uncompressed layer tars), read file after file:
 * opening and closing one per file cost more than reading small files.
 */
const openFiles = new Map<string, { fd: number; id: Stats }>();
/** Descriptors kept open at most. */
export const MAX_OPEN_CONTENT_FILES = 64;

/** Same file, unchanged: a path replaced or rewritten since it was opened must be opened again. */
function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function fdFor(path: string | Buffer): number {
  const key = typeof path === 'string' ? path : `\0${path.toString('latin1')}`;
  const cached = openFiles.get(key);
  if (cached !== undefined) {
    openFiles.delete(key);
    if (sameFile(cached.id, statSync(path))) {
      openFiles.set(key, cached);
      return cached.fd;
    }
    closeSync(cached.fd);
  }
  const fd = openSync(path, 'r');
  openFiles.set(key, { fd, id: fstatSync(fd) });
  if (openFiles.size > MAX_OPEN_CONTENT_FILES) {
    const [oldKey, old] = openFiles.entries().next().value as [string, { fd: number }];
    openFiles.delete(oldKey);
    closeSync(old.fd);
  }
  return fd;
}

/** Closes every descriptor `readContent` keeps open (for long-lived embedders). */
export function closeContentFiles(): void {
  for (const { fd } of openFiles.values()) closeSync(fd);
  openFiles.clear();
}

/**
 * Bytes [offset, offset+length) of a file, in chunks of at most
 * CONTENT_CHUNK. Positional synchronous reads: the data is nearly always in
 * the page cache (it was just written by the layer spill), and a thread-pool
 * round trip per read cost more than the copy.
 */
function* readRange(path: string | Buffer, offset: number, length: number): Generator<Uint8Array> {
  let fd: number;
  try {
    fd = fdFor(path);
  } catch (e) {
    throw new Oci2fsError(ErrorCode.IO, `Cannot open ${String(path)} to read file contents: ${(e as Error).message}`, { cause: e });
  }
  let pos = offset;
  let left = length;
  while (left > 0) {
    const buf = Buffer.allocUnsafe(Math.min(left, CONTENT_CHUNK));
    const bytesRead = readSync(fd, buf, 0, buf.length, pos);
    if (bytesRead === 0) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot read ${length} bytes at offset ${offset} of ${String(path)}: file ended early`);
    }
    yield buf.subarray(0, bytesRead);
    pos += bytesRead;
    left -= bytesRead;
  }
}

/**
 * The logical bytes of a file (`size` bytes, holes as zeros). The chunks may
 * be reused buffers only for zero runs; data chunks are fresh.
 */
export async function* readContent(content: Content, size: number): AsyncGenerator<Uint8Array> {
  switch (content.kind) {
    case 'inline':
      if (content.data.length !== size) {
        throw new Oci2fsError(ErrorCode.INTERNAL, `inline content has ${content.data.length} bytes, expected ${size}`);
      }
      if (size > 0) yield content.data;
      return;
    case 'external':
      throw new Oci2fsError(
        ErrorCode.TREE_INVALID,
        `The content of this file is only referenced (${content.payload}), not available; this output format needs file contents`,
      );
    case 'file': {
      if (!content.sparse) {
        if (content.length !== size) {
          throw new Oci2fsError(ErrorCode.INTERNAL, `content length ${content.length} != size ${size}`);
        }
        yield* readRange(hostPath(content), content.offset, content.length);
        return;
      }
      let logical = 0;
      let packed = content.offset;
      for (const seg of content.sparse) {
        if (seg.offset < logical) throw new Oci2fsError(ErrorCode.TAR_INVALID, 'sparse map segments overlap or are unsorted');
        yield* zeros(seg.offset - logical);
        yield* readRange(hostPath(content), packed, seg.length);
        packed += seg.length;
        logical = seg.offset + seg.length;
      }
      if (logical > size) throw new Oci2fsError(ErrorCode.TAR_INVALID, 'sparse map extends past the file size');
      yield* zeros(size - logical);
      return;
    }
  }
}

/** Convenience: the content of a file inode. */
export function readFile(inode: FileInode): AsyncGenerator<Uint8Array> {
  return readContent(inode.content, inode.size);
}

/** Reads a whole (small) file into memory. Only for tests and tiny files. */
export async function readAll(inode: FileInode): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of readFile(inode)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
