/**
 * A directory on disk → tree (the `dir:` source and `--add` of directories).
 * Nothing is followed: lstat, readlink, names read as raw bytes. File
 * contents are referenced ({kind:'file', path, offset 0}), never read.
 * Hardlinks are found by (st_dev, st_ino). Extended attributes come from one
 * `getfattr` run over the tree (Node has no xattr API); without the attr
 * tools xattrs are skipped and a warning is published. The root gets the
 * root-metadata rule of tree/root.ts, exactly as for image layers.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { ProgressListener } from '../events.js';
import { applyRootMetadata } from './root.js';
import { readXattrTree } from './xattr-read.js';
import type { DirInode, Inode } from './types.js';
import { devMajor, devMinor, S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK } from './types.js';

export interface ScanOptions {
  /** Read extended attributes (default true; needs getfattr from the attr package). */
  xattrs?: boolean;
  events?: ProgressListener;
}

const NS_PER_SEC = 1_000_000_000n;

/** A byte-string path → what `fs` takes (Buffer keeps non-UTF-8 bytes exact). */
const fsPath = (p: string): Buffer => Buffer.from(p, 'latin1');

/** True when the byte string is valid UTF-8 (so a JS string path reaches it). */
function isUtf8(bytes: string): boolean {
  const b = Buffer.from(bytes, 'latin1');
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

function meta(st: BigIntStats) {
  const ns = st.mtimeNs;
  let sec = ns / NS_PER_SEC;
  let nsec = ns % NS_PER_SEC;
  if (nsec < 0n) {
    nsec += NS_PER_SEC;
    sec -= 1n;
  }
  return { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), mtimeSec: Number(sec), mtimeNsec: Number(nsec), xattrs: new Map<string, Uint8Array>() };
}

/**
 * Reads the directory at `path` into a tree. Throws E_IO when it cannot be
 * read, E_TREE_INVALID when `path` is not a directory.
 */
export async function scanDirectory(path: string, opts: ScanOptions = {}): Promise<DirInode> {
  const rootBytes = Buffer.from(path, 'utf8').toString('latin1').replace(/\/+$/, '') || '/';
  const seen = new Map<string, Inode>();
  const all: [string, Inode][] = [];

  const makeInode = async (p: string, st: BigIntStats): Promise<Inode> => {
    const base = meta(st);
    switch (Number(st.mode) & S_IFMT) {
      case S_IFDIR:
        return { kind: 'dir', ...base, children: new Map() };
      case S_IFREG: {
        const size = Number(st.size);
        const content = isUtf8(p)
          ? { kind: 'file' as const, path: Buffer.from(p, 'latin1').toString('utf8'), offset: 0, length: size }
          : { kind: 'file' as const, path: p, offset: 0, length: size, pathIsBytes: true };
        return { kind: 'file', ...base, size, content };
      }
      case S_IFLNK: {
        const target = (await readlink(fsPath(p), { encoding: 'buffer' })).toString('latin1');
        return { kind: 'symlink', ...base, target };
      }
      case S_IFCHR:
      case S_IFBLK: {
        const rdev = Number(st.rdev);
        return { kind: (Number(st.mode) & S_IFMT) === S_IFCHR ? 'chardev' : 'blockdev', ...base, rdevMajor: devMajor(rdev), rdevMinor: devMinor(rdev) };
      }
      case S_IFIFO:
        return { kind: 'fifo', ...base };
      case S_IFSOCK:
        return { kind: 'socket', ...base };
      default:
        throw new Oci2fsError(ErrorCode.UNSUPPORTED, `Unknown file type ${Number(st.mode).toString(8)} at ${Buffer.from(p, 'latin1').toString('utf8')}`);
    }
  };

  const scanDir = async (dir: DirInode, p: string): Promise<void> => {
    const names = (await readdir(fsPath(p), { encoding: 'buffer' })).map((n) => n.toString('latin1')).sort();
    for (const name of names) {
      const cp = p === '/' ? `/${name}` : `${p}/${name}`;
      const st = await lstat(fsPath(cp), { bigint: true });
      const isDir = (Number(st.mode) & S_IFMT) === S_IFDIR;
      const key = `${st.dev}:${st.ino}`;
      let inode = isDir ? undefined : seen.get(key);
      if (inode === undefined) {
        inode = await makeInode(cp, st);
        if (!isDir && st.nlink > 1n) seen.set(key, inode);
        all.push([cp, inode]);
      }
      dir.children.set(name, inode);
      if (inode.kind === 'dir') await scanDir(inode, cp);
    }
  };

  let rootStat: BigIntStats;
  try {
    rootStat = await lstat(fsPath(rootBytes), { bigint: true });
  } catch (e) {
    throw new Oci2fsError(ErrorCode.IO, `Cannot read directory ${path}: ${(e as Error).message}`, { cause: e });
  }
  if ((Number(rootStat.mode) & S_IFMT) !== S_IFDIR) {
    throw new Oci2fsError(ErrorCode.TREE_INVALID, `${path} is not a directory (symlinks to directories are not followed; pass the real path)`);
  }
  const root: DirInode = { kind: 'dir', ...meta(rootStat), children: new Map() };
  try {
    await scanDir(root, rootBytes);
  } catch (e) {
    if (e instanceof Oci2fsError) throw e;
    throw new Oci2fsError(ErrorCode.IO, `Cannot scan directory ${path}: ${(e as Error).message}`, { cause: e });
  }

  if (opts.xattrs ?? true) {
    const byPath = await readXattrTree(rootBytes, opts.events);
    for (const [p, inode] of all) {
      const xs = byPath.get(p);
      if (xs) inode.xattrs = xs;
    }
  }
  applyRootMetadata(root);
  return root;
}
