/**
 * One regular file of the dir output: created exclusively (O_EXCL |
 * O_NOFOLLOW, in a directory the writer created), filled, and given what
 * metadata can be set through its descriptor before it is closed (cheaper
 * than a path lookup per call later: bench image, 40k files).
 */
import { constants as FS, openSync, writeSync, closeSync, ftruncateSync, fchownSync, fchmodSync, futimesSync } from 'node:fs';
import { readFile, CONTENT_CHUNK } from '../../tree/content.js';
import type { Inode } from '../../tree/types.js';
import { isPlainFile, type ContentSources } from '../sources.js';

const ZERO_CHUNK = Buffer.alloc(CONTENT_CHUNK);
const isZero = (c: Uint8Array): boolean => c.length <= CONTENT_CHUNK && ZERO_CHUNK.compare(c, 0, c.length, 0, c.length) === 0;

/** Metadata set through a new file's descriptor before it is closed (see writeEntries, pass 1). */
export interface FileMeta {
  owner?: { uid: number; gid: number };
  mode?: number;
  mtimeSec?: number;
}

/**
 * Creates and fills a regular file, then sets what `meta` holds through its
 * descriptor. Plain layer contents are copied through one reused buffer
 * from descriptors kept open for the whole write (`sources`); sparse and
 * inline contents go through readFile.
 */
export async function writeContent(abs: Buffer, inode: Extract<Inode, { kind: 'file' }>, sources: ContentSources, scratch: Buffer, meta: FileMeta): Promise<void> {
  const fd = openSync(abs, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, 0o600);
  try {
    const c = inode.content;
    if (isPlainFile(c) && c.length === inode.size) {
      for (let pos = 0; pos < c.length; ) {
        const n = Math.min(scratch.length, c.length - pos);
        sources.read(c, pos, scratch, n);
        for (let off = 0; off < n; ) off += writeSync(fd, scratch, off, n - off, pos + off);
        pos += n;
      }
    } else {
      const sparse = c.kind === 'file' && c.sparse !== undefined;
      let pos = 0;
      for await (const chunk of readFile(inode)) {
        // Sparse sources keep their holes: all-zero chunks are skipped.
        if (!(sparse && isZero(chunk))) {
          for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off, pos + off);
        }
        pos += chunk.length;
      }
      if (sparse) ftruncateSync(fd, pos);
    }
    // chown before chmod: chown clears setuid/setgid
    if (meta.owner) fchownSync(fd, meta.owner.uid, meta.owner.gid);
    if (meta.mode !== undefined) fchmodSync(fd, meta.mode);
    if (meta.mtimeSec !== undefined) futimesSync(fd, meta.mtimeSec, meta.mtimeSec);
  } finally {
    closeSync(fd);
  }
}
