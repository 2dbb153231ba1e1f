/**
 * `validateTree`: the gate between tree builders and writers. A tree that
 * passes cannot make a writer produce an invalid image. See docs/tree.md.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { DirInode, Inode, ValidatedTree } from './types.js';

/** Linux NAME_MAX: longest file name in bytes. */
export const NAME_MAX = 255;
/** Linux PATH_MAX: longest symlink target in bytes (including the NUL). */
export const SYMLINK_MAX = 4095;
/** Largest uid/gid (32-bit, excluding (uid_t)-1). */
export const ID_MAX = 0xfffffffe;

function fail(path: string, what: string): never {
  throw new Oci2fsError(ErrorCode.TREE_INVALID, `Invalid filesystem tree at ${JSON.stringify(path)}: ${what}`);
}

function checkName(path: string, name: string): void {
  if (name.length === 0) fail(path, 'empty name');
  if (name === '.' || name === '..') fail(path, `name ${JSON.stringify(name)} is not allowed`);
  if (name.length > NAME_MAX) fail(path, `name is ${name.length} bytes, longer than ${NAME_MAX}`);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 0xff) fail(path, 'name is not a byte string (code unit > 0xff)');
    if (c === 0 || c === 0x2f) fail(path, 'name contains NUL or "/"');
  }
}

const validId = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= ID_MAX;

function checkInode(path: string, inode: Inode): void {
  if (!Number.isInteger(inode.mode) || inode.mode < 0 || inode.mode > 0o7777) fail(path, `mode ${inode.mode} out of range`);
  if (!validId(inode.uid)) fail(path, `uid ${inode.uid} out of range`);
  if (!validId(inode.gid)) fail(path, `gid ${inode.gid} out of range`);
  if (!Number.isSafeInteger(inode.mtimeSec)) fail(path, 'mtime seconds not an integer');
  if (!Number.isInteger(inode.mtimeNsec) || inode.mtimeNsec < 0 || inode.mtimeNsec > 999_999_999) fail(path, 'mtime nanoseconds out of range');
  if (inode.xattrs.size > 0) for (const key of inode.xattrs.keys()) {
    if (key.length === 0) fail(path, 'empty xattr name');
    if (!key.includes('.')) fail(path, `xattr name ${JSON.stringify(key)} has no namespace`);
  }
  switch (inode.kind) {
    case 'file':
      if (!Number.isSafeInteger(inode.size) || inode.size < 0) fail(path, `size ${inode.size} out of range`);
      break;
    case 'symlink':
      if (inode.target.length === 0) fail(path, 'empty symlink target');
      if (inode.target.length > SYMLINK_MAX) fail(path, `symlink target longer than ${SYMLINK_MAX} bytes`);
      if (inode.target.includes('\0')) fail(path, 'symlink target contains NUL');
      break;
    case 'chardev':
    case 'blockdev':
      if (!Number.isInteger(inode.rdevMajor) || inode.rdevMajor < 0 || inode.rdevMajor > 0xfff) fail(path, 'device major out of range');
      if (!Number.isInteger(inode.rdevMinor) || inode.rdevMinor < 0 || inode.rdevMinor > 0xfffff) fail(path, 'device minor out of range');
      break;
    default:
      break;
  }
}

/**
 * Checks every rule writers rely on and brands the tree. Throws
 * E_TREE_INVALID naming the first offending path.
 */
export function validateTree(root: DirInode): ValidatedTree {
  if (root.kind !== 'dir') fail('/', 'root is not a directory');
  const seenDirs = new Set<DirInode>();
  const rec = (dir: DirInode, path: string): void => {
    if (seenDirs.has(dir)) fail(path, 'directory is hardlinked (appears twice)');
    seenDirs.add(dir);
    checkInode(path, dir);
    for (const [name, child] of dir.children) {
      const p = path === '/' ? `/${name}` : `${path}/${name}`;
      checkName(p, name);
      if (child.kind === 'dir') rec(child, p);
      else checkInode(p, child);
    }
  };
  rec(root, '/');
  return { root } as ValidatedTree;
}
