/**
 * Random access to a file's logical bytes (holes read as zeros), for inline
 * tails and chunked sparse files. Bounded: callers ask for at most ~1 MiB.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { readContent } from '../../tree/content.js';
import type { Content, FileInode } from '../../tree/types.js';

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
  // Synchronous reads through readContent's cached descriptors (one open
  // per file here cost more than the small tail reads themselves).
  const segs = c.sparse ?? [{ offset: 0, length: c.length }];
  let packed = c.offset;
  for (const s of segs) {
    const a = Math.max(s.offset, off);
    const b = Math.min(s.offset + s.length, off + len);
    if (a < b) {
      const part: Content = { kind: 'file', path: c.path, offset: packed + (a - s.offset), length: b - a, ...(c.pathIsBytes ? { pathIsBytes: true } : {}) };
      let at = a - off;
      for await (const chunk of readContent(part, b - a)) {
        out.set(chunk, at);
        at += chunk.length;
      }
    }
    packed += s.length;
  }
  return out;
}
