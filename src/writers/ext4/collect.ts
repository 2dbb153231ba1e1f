/**
 * First pass over the tree: inode numbers, link counts, directory
 * children, the logical blocks each file occupies, and the canonical
 * summary the default UUID is derived from. No I/O.
 */
import { createHash, type Hash } from 'node:crypto';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { countLinks, sortedChildren, type DirInode, type Inode, type ValidatedTree } from '../../tree/types.js';
import { BLOCK_SIZE, FIRST_INO, FT_BLKDEV, FT_CHRDEV, FT_DIR, FT_FIFO, FT_REG, FT_SOCK, FT_SYMLINK, LINK_MAX, LOST_FOUND_INO, ROOT_INO } from './constants.js';

/** ext4_dir_entry_2 file_type of each tree kind. */
export const FILE_TYPE: Record<Inode['kind'], number> = {
  file: FT_REG,
  dir: FT_DIR,
  symlink: FT_SYMLINK,
  chardev: FT_CHRDEV,
  blockdev: FT_BLKDEV,
  fifo: FT_FIFO,
  socket: FT_SOCK,
};

/** A logical block range [start, start+len) of a file that holds data. */
export interface BlockRange {
  start: number;
  len: number;
}

/** One inode to write. `inode` is null for a synthesized lost+found. */
export interface Node {
  ino: number;
  inode: Inode | null;
  path: string;
  links: number;
  /** Directories: parent inode number and sorted children. */
  parent: number;
  children: { name: Uint8Array; ino: number; type: number }[];
}

export interface Collected {
  /** Nodes in inode-number order (root 2, lost+found 11, then 12…). */
  nodes: Node[];
  /** sha256 over a canonical summary of the tree (metadata, sizes, sparse maps). */
  summary: Buffer;
}

/** Logical data ranges of a regular file: whole file, or the blocks its sparse segments touch. */
export function fileRanges(inode: Inode): BlockRange[] {
  if (inode.kind !== 'file' || inode.size === 0) return [];
  const c = inode.content;
  if (c.kind !== 'file' || !c.sparse) return [{ start: 0, len: Math.ceil(inode.size / BLOCK_SIZE) }];
  const out: BlockRange[] = [];
  for (const seg of c.sparse) {
    if (seg.length === 0) continue;
    const s = Math.floor(seg.offset / BLOCK_SIZE);
    const e = Math.ceil(Math.min(seg.offset + seg.length, inode.size) / BLOCK_SIZE);
    const last = out[out.length - 1];
    if (last && s <= last.start + last.len) last.len = Math.max(last.len, e - last.start);
    else if (e > s) out.push({ start: s, len: e - s });
  }
  return out;
}

/** Summary lines (latin1) hashed in batches: one hash update per line cost more than the lines. */
class SummaryHash {
  private readonly h: Hash = createHash('sha256');
  private pending = '';

  /** Adds `line` and a newline. */
  line(line: string): void {
    this.pending += line + '\n';
    if (this.pending.length >= SUMMARY_BATCH) this.drain();
  }

  private drain(): void {
    this.h.update(this.pending, 'latin1');
    this.pending = '';
  }

  digest(): Buffer {
    this.drain();
    return this.h.digest();
  }
}

/** Characters of summary text per hash update. */
const SUMMARY_BATCH = 1 << 16;

function hashInode(h: SummaryHash, path: string, inode: Inode): void {
  const parts: (string | number)[] = [path, inode.kind, inode.mode, inode.uid, inode.gid, inode.mtimeSec, inode.mtimeNsec];
  if (inode.kind === 'file') {
    parts.push(inode.size);
    const c = inode.content;
    if (c.kind === 'inline') parts.push(Buffer.from(c.data).toString('hex'));
    if (c.kind === 'file' && c.sparse) parts.push(JSON.stringify(c.sparse));
  } else if (inode.kind === 'symlink') parts.push(inode.target);
  else if (inode.kind === 'chardev' || inode.kind === 'blockdev') parts.push(inode.rdevMajor, inode.rdevMinor);
  for (const k of [...inode.xattrs.keys()].sort()) parts.push(k, Buffer.from(inode.xattrs.get(k)!).toString('hex'));
  h.line(JSON.stringify(parts));
}

/**
 * Numbers inodes depth-first in byte order of names (hardlinks share the
 * first number). A root "lost+found" directory from the tree becomes
 * inode 11; otherwise an empty one is synthesized.
 */
export function collect(tree: ValidatedTree): Collected {
  const root = tree.root;
  const links = countLinks(root);
  const h = new SummaryHash();
  const inoOf = new Map<Inode, number>();
  const nodes: Node[] = [];
  const lpfTree = root.children.get('lost+found');
  if (lpfTree && lpfTree.kind !== 'dir') {
    throw new Oci2fsError(
      ErrorCode.TREE_INVALID,
      `/lost+found is a ${lpfTree.kind}, but ext4 reserves that name for the lost+found directory (inode 11); remove or rename it before writing ext4`,
    );
  }
  const lpf = lpfTree ?? null;
  let next = FIRST_INO + 1;

  const rootNode: Node = { ino: ROOT_INO, inode: root, path: '/', links: 0, parent: ROOT_INO, children: [] };
  const lpfNode: Node = { ino: LOST_FOUND_INO, inode: lpf, path: '/lost+found', links: 2, parent: ROOT_INO, children: [] };
  inoOf.set(root, ROOT_INO);
  if (lpf) inoOf.set(lpf, LOST_FOUND_INO);
  nodes.push(rootNode, lpfNode);

  const visitDir = (dir: DirInode, node: Node): void => {
    for (const [name, child] of sortedChildren(dir)) {
      const path = node.path === '/' ? `/${name}` : `${node.path}/${name}`;
      let ino = inoOf.get(child);
      let childNode: Node | undefined;
      if (child === lpf && node.ino === ROOT_INO) {
        ino = LOST_FOUND_INO;
        childNode = lpfNode;
        lpfNode.links = links.get(child) ?? 2;
        hashInode(h, path, child);
      } else if (ino === undefined) {
        ino = next++;
        inoOf.set(child, ino);
        childNode = { ino, inode: child, path, links: links.get(child) ?? 1, parent: node.ino, children: [] };
        nodes.push(childNode);
        hashInode(h, path, child);
      }
      node.children.push({ name: Buffer.from(name, 'latin1'), ino, type: FILE_TYPE[child.kind] });
      if (childNode && child.kind === 'dir') visitDir(child, childNode);
    }
  };
  hashInode(h, '/', root);
  visitDir(root, rootNode);
  if (!lpf) {
    // synthesized lost+found: add its entry to the root, keeping byte order
    rootNode.children.push({ name: Buffer.from('lost+found', 'latin1'), ino: LOST_FOUND_INO, type: FT_DIR });
    rootNode.children.sort((a, b) => Buffer.compare(a.name, b.name));
  }
  rootNode.links = 2 + rootNode.children.filter((c) => c.type === FT_DIR).length;
  for (const n of nodes) {
    if (n.inode && n.inode.kind !== 'dir' && n.links > LINK_MAX) {
      throw new Oci2fsError(ErrorCode.TREE_INVALID, `${n.path} has ${n.links} hard links; ext4 allows at most ${LINK_MAX}`);
    }
  }
  return { nodes, summary: h.digest() };
}
