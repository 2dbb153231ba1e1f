/**
 * The in-memory filesystem tree: the hub between every source (image layers,
 * a scanned directory, a composefs dumpfile) and every writer (tar, dir,
 * dumpfile, squashfs, EROFS, composefs, ext4). See docs/tree.md.
 *
 * Names are *byte strings*: JavaScript strings in which every UTF-16 code unit
 * is one byte (0..255) of the on-disk name, i.e. `Buffer.from(name, 'latin1')`
 * gives the exact bytes. This keeps invalid UTF-8, NFC/NFD twins and any other
 * byte sequence exact, and makes the default JS string order equal to byte
 * order (what every writer sorts by). Symlink targets are byte strings too.
 */

/** File types, as in `st_mode & S_IFMT`. */
export type InodeKind = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

/** S_IFMT values (POSIX / Linux <sys/stat.h>). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const KIND_TO_IFMT: Record<InodeKind, number> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  chardev: S_IFCHR,
  blockdev: S_IFBLK,
  fifo: S_IFIFO,
  socket: S_IFSOCK,
};

/** A data segment of a sparse file: `length` bytes of real data at logical `offset`. */
export interface SparseSegment {
  offset: number;
  length: number;
}

/**
 * Where the bytes of a regular file live. Contents are never held in memory
 * (except small generated files, `inline`).
 * - `file`: bytes [offset, offset+length) of a file on disk, e.g. an
 *   uncompressed layer tar in the store (spilled once, see docs/tree.md), a
 *   file in a scanned directory (offset 0), or a host file from `--add`.
 *   For sparse files, `sparse` maps the packed data (stored contiguously at
 *   `offset`) to logical offsets; everything else reads as zeros.
 * - `inline`: bytes held in memory (provenance files, enroot files; small).
 * - `external`: content that is not available, only described (a composefs
 *   dumpfile source names objects by digest). Writers that need the bytes
 *   reject it; composefs/dumpfile writers use `digest`/`payload`.
 */
export type Content =
  | {
      kind: 'file';
      path: string;
      offset: number;
      length: number;
      sparse?: SparseSegment[];
      /**
       * True when `path` is a byte string (one char per byte, see above)
       * because the host path is not valid UTF-8 (scanned directories);
       * open it with `hostPath(content)`.
       */
      pathIsBytes?: boolean;
    }
  | { kind: 'inline'; data: Uint8Array }
  | { kind: 'external'; payload: string; digest?: string };

interface InodeBase {
  /** Permission bits including setuid/setgid/sticky: `st_mode & 0o7777`. */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, whole seconds since the epoch (may be negative). */
  mtimeSec: number;
  /** Nanoseconds part of the modification time, 0..999999999. */
  mtimeNsec: number;
  /**
   * Extended attributes: name (byte string, e.g. "security.capability") →
   * raw value bytes. Writers sort names by byte order themselves. A map may
   * be shared by several inodes (every inode from a tar entry without
   * xattrs has the tar reader's one read-only empty map): assign a new map,
   * never change one in place.
   */
  xattrs: Map<string, Uint8Array>;
}

export interface FileInode extends InodeBase {
  kind: 'file';
  /** Logical size in bytes (sparse holes included). */
  size: number;
  content: Content;
  /** Optional fs-verity digest (hex sha256) when already known (dumpfile source). */
  fsverityDigest?: string;
}

export interface DirInode extends InodeBase {
  kind: 'dir';
  /** Children by name (byte string). Never contains "." or "..". Iterate sorted. */
  children: Map<string, Inode>;
}

export interface SymlinkInode extends InodeBase {
  kind: 'symlink';
  /** Target, verbatim (byte string); never followed while building the tree. */
  target: string;
}

export interface DeviceInode extends InodeBase {
  kind: 'chardev' | 'blockdev';
  rdevMajor: number;
  rdevMinor: number;
}

export interface SpecialInode extends InodeBase {
  kind: 'fifo' | 'socket';
}

/**
 * An inode. Hardlinks are several directory entries holding the *same*
 * object (identity), so `nlink` is computed by counting references
 * (see `countLinks`), never stored.
 */
export type Inode = FileInode | DirInode | SymlinkInode | DeviceInode | SpecialInode;

/** Linux makedev encoding (new style), as used by st_rdev on Linux. */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

export function devMajor(rdev: number): number {
  return (rdev >>> 8) & 0xfff;
}

export function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}

/** Full st_mode (type bits | permission bits) of an inode. */
export function stMode(inode: Inode): number {
  return KIND_TO_IFMT[inode.kind] | (inode.mode & 0o7777);
}

declare const validatedBrand: unique symbol;

/**
 * A tree that passed `validateTree` (see tree/validate.ts): names are valid
 * (non-empty, no "/", no NUL, not "." or ".."), no directory is hardlinked,
 * every inode field is in range. Every writer accepts only this type, so a
 * writer can never be handed something that makes it write garbage.
 */
export interface ValidatedTree {
  readonly root: DirInode;
  readonly [validatedBrand]: true;
}

/** Walk callback: `path` is "/" for the root, else "/a/b" (byte string). */
export type WalkVisitor = (path: string, inode: Inode, parent: DirInode | null, name: string) => void;

/** Children of a directory sorted by byte order of names. */
export function sortedChildren(dir: DirInode): [string, Inode][] {
  return [...dir.children.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Depth-first pre-order walk in byte order of names. */
export function walk(root: DirInode, visit: WalkVisitor): void {
  const rec = (dir: DirInode, path: string): void => {
    for (const [name, child] of sortedChildren(dir)) {
      const p = path === '/' ? `/${name}` : `${path}/${name}`;
      visit(p, child, dir, name);
      if (child.kind === 'dir') rec(child, p);
    }
  };
  visit('/', root, null, '');
  rec(root, '/');
}

/**
 * Visits the root and every directory entry's inode (a hardlinked inode once
 * per name), in no defined order: no sorting, no paths. Only for results
 * that do not depend on order (maxima, counts, sets).
 */
export function forEachInode(root: DirInode, visit: (inode: Inode) => void): void {
  visit(root);
  const dirs: DirInode[] = [root];
  for (let d = dirs.pop(); d !== undefined; d = dirs.pop()) {
    for (const child of d.children.values()) {
      visit(child);
      if (child.kind === 'dir') dirs.push(child);
    }
  }
}

/**
 * Link counts: for non-directories the number of directory entries that
 * refer to the inode; for directories 2 + number of child directories.
 */
export function countLinks(root: DirInode): Map<Inode, number> {
  const links = new Map<Inode, number>();
  walk(root, (_path, inode) => {
    if (inode.kind === 'dir') {
      let n = 2;
      for (const c of inode.children.values()) if (c.kind === 'dir') n++;
      links.set(inode, n);
    } else {
      links.set(inode, (links.get(inode) ?? 0) + 1);
    }
  });
  return links;
}
