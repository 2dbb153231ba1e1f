/**
 * Random access to a file's logical bytes (holes read as zeros), for inline
 * tails and chunked sparse files. Bounded: callers ask for at most ~1 MiB.
 */
import { open } from 'node:fs/promises';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { FileInode } from '../../tree/types.js';

/** Bytes [off, off+len) of the file's logical content. */
export async function readRange(inode: FileInode, off: number, len: number): Promise<Buffer> {
  const out = Buffer.alloc(len);
  const c = inode.content;
  if (c.kind === 'inline') {
    Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).copy(out, 0, off, off + len);
    return out;
  }
  if (c.kind === 'external') {
    throw new Oci2fsError(ErrorCode.TREE_INVALID, `The content of this file is only referenced (${c.payload}); a plain EROFS image needs file contents`);
  }
  const segs = c.sparse ?? [{ offset: 0, length: c.length }];
  const fh = await open(c.path, 'r');
  try {
    let packed = c.offset;
    for (const s of segs) {
      const a = Math.max(s.offset, off);
      const b = Math.min(s.offset + s.length, off + len);
      if (a < b) {
        const { bytesRead } = await fh.read(out, a - off, b - a, packed + (a - s.offset));
        if (bytesRead !== b - a) throw new Oci2fsError(ErrorCode.IO, `Cannot read ${b - a} bytes of ${c.path}: file ended early`);
      }
      packed += s.length;
    }
  } finally {
    await fh.close();
  }
  return out;
}
