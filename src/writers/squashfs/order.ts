/**
 * Inode order and numbering. Inodes are written to the inode table, and
 * numbered 1..N, in one post-order walk in byte order of names: for each
 * directory, its entries in name order (a subdirectory's whole subtree in
 * place, ending with the subdirectory itself; a hardlinked inode where it is
 * first met), then the directory itself. The root is therefore inode N, as
 * with mksquashfs. Writing children first means every directory entry's
 * inode reference is known when the listing is written; numbering ahead of
 * writing gives each directory its parent's number.
 *
 * File data is read in a separate pre-order walk (a directory's files before
 * its subdirectories' files, like a tar stream), each inode once.
 */
import { sortedChildren, walk, type DirInode, type FileInode, type Inode } from '../../tree/types.js';

export interface InodePlan {
  /** Inodes in inode-table order; `numbers.get(x) === order.indexOf(x) + 1`. */
  order: Inode[];
  numbers: Map<Inode, number>;
  /** Regular files in data order, each once. */
  files: FileInode[];
}

/** Computes the inode order, the numbers and the data order of a tree. */
export function planInodes(root: DirInode): InodePlan {
  const order: Inode[] = [];
  const numbers = new Map<Inode, number>();
  const add = (x: Inode): void => {
    order.push(x);
    numbers.set(x, order.length);
  };
  const visit = (dir: DirInode): void => {
    for (const [, child] of sortedChildren(dir)) {
      if (child.kind === 'dir') visit(child);
      else if (!numbers.has(child)) add(child);
    }
    add(dir);
  };
  visit(root);
  const files: FileInode[] = [];
  const seen = new Set<Inode>();
  walk(root, (_p, inode) => {
    if (inode.kind === 'file' && !seen.has(inode)) {
      seen.add(inode);
      files.push(inode);
    }
  });
  return { order, numbers, files };
}
