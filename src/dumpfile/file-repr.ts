/**
 * How a regular file is represented in composefs (shared by the dumpfile
 * writer and the composefs image writer so both describe the same image):
 * small contents are stored inline, everything else is referenced by its
 * fs-verity digest as an object path `XX/REST`. See docs/composefs.md.
 */
import { readSync, openSync, closeSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { FileInode } from '../tree/types.js';
import { LCFS_INLINE_CONTENT_MAX } from './limits.js';

/**
 * Files with on-disk content up to this size are stored inline, as
 * `mkcomposefs DIR` does (LCFS_RECOMMENDED_INLINE_CONTENT_MAX: the size of
 * the redirect xattr the file would otherwise need).
 */
export const LCFS_RECOMMENDED_INLINE_CONTENT_MAX = 64;

/** True when the file's bytes go inline into the composefs image. */
export function storedInline(inode: FileInode, inlineMax: number = LCFS_RECOMMENDED_INLINE_CONTENT_MAX): boolean {
  if (inode.size === 0) return false;
  switch (inode.content.kind) {
    case 'inline':
      return inode.size <= LCFS_INLINE_CONTENT_MAX;
    case 'file':
      return inode.size <= Math.min(inlineMax, LCFS_INLINE_CONTENT_MAX);
    default:
      return false;
  }
}

/** The fs-verity digest (hex) known for a file, if any: the map wins over the inode's own. */
export function knownDigest(inode: FileInode, digests?: Map<FileInode, string>): string | undefined {
  const d = digests?.get(inode) ?? inode.fsverityDigest ?? (inode.content.kind === 'external' ? inode.content.digest : undefined);
  return d?.toLowerCase();
}

/** Object path for a digest: `ab/cdef…` (first byte, slash, the rest). */
export function digestPayload(hex: string): string {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Oci2fsError(ErrorCode.INTERNAL, `not a sha256 fs-verity digest: ${hex}`);
  return `${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/**
 * The bytes of a small file that is stored inline (at most
 * LCFS_INLINE_CONTENT_MAX bytes, so a synchronous read is fine).
 */
export function smallContent(inode: FileInode): Uint8Array {
  const c = inode.content;
  if (c.kind === 'inline') return c.data;
  if (c.kind !== 'file') throw new Oci2fsError(ErrorCode.INTERNAL, 'smallContent on external content');
  if (inode.size > LCFS_INLINE_CONTENT_MAX) throw new Oci2fsError(ErrorCode.INTERNAL, 'smallContent on a large file');
  const out = Buffer.alloc(inode.size);
  const fd = openSync(c.path, 'r');
  try {
    const segs = c.sparse ?? [{ offset: 0, length: c.length }];
    let packed = c.offset;
    for (const seg of segs) {
      const n = readSync(fd, out, seg.offset, seg.length, packed);
      if (n !== seg.length) throw new Oci2fsError(ErrorCode.IO, `Cannot read ${seg.length} bytes at ${packed} of ${c.path}: file ended early`);
      packed += seg.length;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
