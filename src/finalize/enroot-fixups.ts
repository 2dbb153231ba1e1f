/**
 * What `enroot import` does to an image besides writing its config files
 * (enroot src/docker.sh `docker::import` and src/common.sh), opt-in through
 * `FinalizeOptions.enrootFixups`:
 *  - layers are extracted with `tar --anchored --exclude='dev/*'`: /dev is
 *    kept but emptied (tar wildcards match "/", so the whole subtree);
 *  - `common::fixperms`: `chmod -R u+rX` (owner read on everything, owner
 *    execute on directories and on files executable by anyone; symlinks are
 *    not touched), then owner write on directories at most 5 levels deep
 *    (`find -maxdepth 5 -type d ! -perm -u=w`, the root being level 0);
 *  - `mksquashfs -all-root`: every entry owned by 0:0.
 */
import type { DirInode, Inode } from '../tree/types.js';

/** find -maxdepth used by common::fixperms for the u+w fix on directories. */
export const FIXPERMS_MAX_DEPTH = 5;

export function applyEnrootFixups(root: DirInode): void {
  const dev = root.children.get('dev');
  if (dev?.kind === 'dir') dev.children.clear();
  const done = new Set<Inode>();
  const rec = (dir: DirInode, depth: number): void => {
    for (const inode of [dir, ...dir.children.values()]) {
      if (done.has(inode)) continue;
      done.add(inode);
      inode.uid = 0;
      inode.gid = 0;
      if (inode.kind === 'symlink') continue;
      inode.mode |= 0o400;
      if (inode.kind === 'dir' || (inode.mode & 0o111) !== 0) inode.mode |= 0o100;
    }
    if (depth <= FIXPERMS_MAX_DEPTH) dir.mode |= 0o200;
    for (const child of dir.children.values()) if (child.kind === 'dir') rec(child, depth + 1);
  };
  rec(root, 0);
}
