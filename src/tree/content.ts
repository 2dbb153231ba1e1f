/**
 * Reading the bytes of a regular file from wherever its `Content` says they
 * live. Streams in bounded chunks; sparse holes are produced as zeros.
 */
import { open } from 'node:fs/promises';
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

async function* readRange(path: string | Buffer, offset: number, length: number): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    let pos = offset;
    let left = length;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, CONTENT_CHUNK));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) {
        throw new Oci2fsError(ErrorCode.IO, `Cannot read ${length} bytes at offset ${offset} of ${path}: file ended early`);
      }
      yield buf.subarray(0, bytesRead);
      pos += bytesRead;
      left -= bytesRead;
    }
  } finally {
    await fh.close();
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
