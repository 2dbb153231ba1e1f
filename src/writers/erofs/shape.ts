/**
 * The shape both EROFS writers share: one ENode per inode (hardlinks are
 * one inode; its first name in a byte-order depth-first walk is its
 * primary name, as in mkcomposefs), directory entries with "." and "..",
 * and the breadth-first order inodes are laid out in. One traversal, no
 * path strings (paths are only built for error messages, by pathOf).
 */
import { makedev, sortedChildren, stMode, walk, type DirInode, type Inode } from '../../tree/types.js';
import { byteCmp, newENode, type EDirent, type ENode, type EXattr } from './model.js';

export interface Shape {
  /** Breadth-first, root first: the order of inodes on disk. */
  nodes: ENode[];
  enodes: Map<Inode, ENode>;
  /** The directory holding each inode's primary name (null for the root). */
  parentOf: Map<Inode, DirInode | null>;
}

/** Makes the ENode of an inode; `nlink` is its link count in the tree. */
export type MakeNode = (inode: Inode, nlink: number) => ENode;

/**
 * Shapes `root`: `make` is called once per inode, in depth-first byte
 * order; `rootExtras` adds entries to the root directory (composefs'
 * whiteout stubs), which count as primary names of their targets.
 */
export function shapeTree(root: DirInode, make: MakeNode, rootExtras?: (rootNode: ENode) => EDirent[]): Shape {
  const order: Inode[] = [];
  const parentOf = new Map<Inode, DirInode | null>([[root, null]]);
  /** Sightings of each non-directory (its link count). */
  const names = new Map<Inode, number>();
  /** Per directory: its children in byte order, and which entries are primary names. */
  const listing = new Map<DirInode, { children: [string, Inode][]; primary: boolean[] }>();
  const visit = (dir: DirInode): void => {
    order.push(dir);
    const children = sortedChildren(dir);
    const primary = new Array<boolean>(children.length);
    listing.set(dir, { children, primary });
    for (let i = 0; i < children.length; i++) {
      const child = children[i][1];
      const first = !parentOf.has(child);
      primary[i] = first;
      if (first) parentOf.set(child, dir);
      if (child.kind === 'dir') {
        if (first) visit(child);
      } else {
        names.set(child, (names.get(child) ?? 0) + 1);
        if (first) order.push(child);
      }
    }
  };
  visit(root);

  const enodes = new Map<Inode, ENode>();
  for (const inode of order) {
    let nlink: number;
    if (inode.kind === 'dir') {
      nlink = 2;
      for (const c of inode.children.values()) if (c.kind === 'dir') nlink++;
    } else nlink = names.get(inode) ?? 1;
    enodes.set(inode, make(inode, nlink));
  }

  const primaryDirents = new Set<EDirent>();
  for (const [dir, { children, primary }] of listing) {
    const n = enodes.get(dir) as ENode;
    const ents: EDirent[] = [
      { name: '.', target: n },
      { name: '..', target: enodes.get(parentOf.get(dir) ?? dir) as ENode },
    ];
    for (let i = 0; i < children.length; i++) {
      const d = { name: children[i][0], target: enodes.get(children[i][1]) as ENode };
      if (primary[i]) primaryDirents.add(d);
      ents.push(d);
    }
    if (dir === root && rootExtras) {
      for (const d of rootExtras(n)) {
        primaryDirents.add(d);
        ents.push(d);
      }
    }
    n.dirents = ents.sort((a, b) => byteCmp(a.name, b.name));
  }

  const nodes: ENode[] = [enodes.get(root) as ENode];
  for (let i = 0; i < nodes.length; i++) {
    for (const d of nodes[i].dirents ?? []) if (primaryDirents.has(d)) nodes.push(d.target);
  }
  return { nodes, enodes, parentOf };
}

/**
 * The ENode fields both writers derive alike: mode, owner, times, link
 * count, size (st_size of files, target length of symlinks), symlink
 * target and device number; `data` (how a regular file's bytes are laid
 * out) and the xattr list are the writer's.
 */
export function nodeOf(inode: Inode, nlink: number, data: ENode['data'], xattrs: EXattr[]): ENode {
  const n = newENode({ mode: stMode(inode), nlink, uid: inode.uid, gid: inode.gid, mtimeSec: inode.mtimeSec, mtimeNsec: inode.mtimeNsec, rdev: 0, size: 0, xattrs, data });
  if (inode.kind === 'file') n.size = inode.size;
  else if (inode.kind === 'symlink') {
    n.target = inode.target;
    n.size = inode.target.length;
  } else if (inode.kind === 'chardev' || inode.kind === 'blockdev') n.rdev = makedev(inode.rdevMajor, inode.rdevMinor);
  return n;
}

/** The first path of `inode` in a byte-order walk (for error messages). */
export function pathOf(root: DirInode, inode: Inode): string {
  let found: string | undefined;
  walk(root, (p, i) => {
    if (found === undefined && i === inode) found = p;
  });
  return found ?? '?';
}
