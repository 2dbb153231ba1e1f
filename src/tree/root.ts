/**
 * The root-directory metadata rule (docs/determinism.md): one rule for every
 * tree builder (image layers and scanned directories).
 *
 * Tar root entries ("./", "/") are often missing from layers, and runtimes
 * disagree on what to do with them. oci2fs ignores them and gives the root
 * the metadata of /usr (mode, uid, gid, mtime, xattrs) when /usr is a
 * directory — the choice composefs-rs makes, since /usr is present in nearly
 * every image and its metadata comes from the image itself — and otherwise
 * the implicit-directory metadata (0755 root:root, mtime 0, no xattrs).
 */
import { IMPLICIT_DIR } from './path.js';
import type { DirInode } from './types.js';

/** Name of the directory whose metadata the root copies. */
export const ROOT_METADATA_SOURCE = 'usr';

/** Applies the root rule to `root` in place. */
export function applyRootMetadata(root: DirInode): void {
  const src = root.children.get(ROOT_METADATA_SOURCE);
  if (src !== undefined && src.kind === 'dir') {
    root.mode = src.mode;
    root.uid = src.uid;
    root.gid = src.gid;
    root.mtimeSec = src.mtimeSec;
    root.mtimeNsec = src.mtimeNsec;
    root.xattrs = new Map([...src.xattrs].map(([k, v]) => [k, Uint8Array.from(v)]));
  } else {
    Object.assign(root, IMPLICIT_DIR);
    root.xattrs = new Map();
  }
}
