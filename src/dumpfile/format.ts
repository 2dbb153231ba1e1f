/**
 * Writing a tree as a composefs dumpfile, byte for byte as the C
 * `composefs-info dump` prints the image `mkcomposefs` would build from it
 * (see docs/composefs.md for the field rules).
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { countLinks, makedev, stMode, walk, type FileInode, type Inode, type ValidatedTree } from '../tree/types.js';
import { escapeField, escapeOptional, ESCAPE_EQUAL, ESCAPE_LONE_DASH, ESCAPE_STANDARD } from './escape.js';
import { digestPayload, knownDigest, smallContent, storedInline, LCFS_RECOMMENDED_INLINE_CONTENT_MAX } from './file-repr.js';

export interface FormatDumpfileOptions {
  /** fs-verity digests (hex) of files whose content is on disk; required for those stored by digest. */
  digests?: Map<FileInode, string>;
  /** Files with on-disk content up to this size are printed inline (default 64, as mkcomposefs). */
  inlineMax?: number;
}

/** The PAYLOAD, CONTENT and DIGEST fields of a regular file. */
function fileFields(path: string, f: FileInode, opts: FormatDumpfileOptions): [string | undefined, string | undefined, string | undefined] {
  const digest = knownDigest(f, opts.digests);
  if (storedInline(f, opts.inlineMax ?? LCFS_RECOMMENDED_INLINE_CONTENT_MAX)) {
    const data = Buffer.from(smallContent(f)).toString('latin1');
    const payload = f.content.kind === 'file' && digest ? digestPayload(digest) : undefined;
    return [payload, data, digest];
  }
  if (f.content.kind === 'external') return [f.content.payload === '' ? undefined : f.content.payload, undefined, digest];
  if (f.size === 0) return [undefined, undefined, undefined];
  if (!digest) {
    throw new Oci2fsError(ErrorCode.TREE_INVALID, `No fs-verity digest for ${JSON.stringify(path)} (${f.size} bytes): pass opts.digests to formatDumpfile`);
  }
  return [digestPayload(digest), undefined, digest];
}

/**
 * Formats a validated tree as a dumpfile: depth-first in byte order of
 * names, one line per entry; the first occurrence of a hardlinked inode is
 * printed in full, later ones as `@MODE` lines whose PAYLOAD is the first
 * path. Directories print SIZE 0.
 */
export function formatDumpfile(tree: ValidatedTree, opts: FormatDumpfileOptions = {}): string {
  const links = countLinks(tree.root);
  const firstPath = new Map<Inode, string>();
  const out: string[] = [];
  walk(tree.root, (path, inode) => {
    const primary = firstPath.get(inode);
    if (primary === undefined && inode.kind !== 'dir') firstPath.set(inode, path);
    let size = 0;
    let rdev = 0;
    let payload: string | undefined;
    let content: string | undefined;
    let digest: string | undefined;
    switch (inode.kind) {
      case 'file':
        size = inode.size;
        [payload, content, digest] = fileFields(primary ?? path, inode, opts);
        break;
      case 'symlink':
        size = inode.target.length;
        payload = inode.target;
        break;
      case 'chardev':
      case 'blockdev':
        rdev = makedev(inode.rdevMajor, inode.rdevMinor);
        break;
      default:
        break;
    }
    if (primary !== undefined) payload = primary;
    let line = `${escapeField(path, ESCAPE_STANDARD)} ${size} ${primary !== undefined ? '@' : ''}${stMode(inode).toString(8)} ${links.get(inode)} ${inode.uid} ${inode.gid} ${rdev} ${inode.mtimeSec}.${inode.mtimeNsec} `;
    line += `${escapeOptional(payload, ESCAPE_LONE_DASH)} ${escapeOptional(content, ESCAPE_LONE_DASH)} ${digest ?? '-'}`;
    const names = [...inode.xattrs.keys()].sort();
    for (const k of names) {
      const v = Buffer.from(inode.xattrs.get(k) as Uint8Array).toString('latin1');
      line += ` ${escapeField(k, ESCAPE_EQUAL)}=${escapeField(v, ESCAPE_EQUAL)}`;
    }
    out.push(line);
  });
  return out.join('\n') + '\n';
}
