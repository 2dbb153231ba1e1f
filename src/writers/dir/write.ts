/**
 * The `dir` output: the tree materialised as a directory (docs/tree.md,
 * "dir output").
 *
 * Safety: every parent is a directory this writer created itself, entries
 * are created exclusively (O_EXCL | O_NOFOLLOW, mkdir, symlink, link,
 * rename onto a checked-absent name), and symlinks in the tree are never
 * followed, so nothing is ever written outside `outDir`. A non-empty
 * `outDir` is refused unless `allowNonEmpty` (then clashes fail).
 *
 * Order: create entries (pre-order) and chown them (regular files also get
 * their exact times, and as root their mode, through the new descriptor:
 * file.ts); set xattrs in one `setfattr` batch (after chown, which clears
 * security.capability);
 * nanosecond and pre-epoch times (Node's utimes rounds to microseconds) in
 * one `python3` run (nstimes.ts; else `touch -h` batches) while directories
 * are still searchable; then post-order chmod (incl. setuid/setgid, after
 * chown) and the other timestamps (children before their directory).
 *
 * Speed: the per-entry calls are synchronous (node:fs *Sync). Each is a
 * short syscall on a local file system; awaiting each one through the libuv
 * thread pool left the process mostly idle (6-8 round trips per entry).
 *
 * Unprivileged: ownership goes to the `user.rootlesscontainers` xattr (as
 * umoci does), devices and trusted./security. xattrs are skipped; every
 * skip is reported in the result.
 */
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import {
  mkdirSync,
  symlinkSync,
  linkSync,
  renameSync,
  chownSync,
  lchownSync,
  chmodSync,
  utimesSync,
  lutimesSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { makeDirectory } from '../../util/make-dir.js';
import type { ProgressListener } from '../../events.js';
import { STREAM_BUFFER_BYTES } from '../../util/stream-buffer.js';
import { walk } from '../../tree/types.js';
import type { Inode, ValidatedTree } from '../../tree/types.js';
import { encodeRootlessOwner, ROOTLESS_XATTR } from './rootless.js';
import { ContentSources } from '../sources.js';
import { writeContent } from './file.js';
import { restoreXattrs } from './setfattr.js';
import { run, TmpNames, withUtf8Path } from './host.js';
import { setNsTimesPython, type NsTime } from './nstimes.js';

export interface WriteDirOptions {
  /** Write into an existing non-empty directory (entries that exist make it fail). */
  allowNonEmpty?: boolean;
  /** Force the unprivileged mode even as root (default: unprivileged when euid != 0). */
  rootless?: boolean;
  events?: ProgressListener;
}

export interface WriteDirResult {
  /** What could not be applied (unprivileged mode, or unsupported here). */
  skipped: { path: string; what: string }[];
}

interface Item {
  /** Tree path ("/a/b"). */
  path: string;
  /** Path relative to outDir as raw bytes ("a/b"; "." for the root). */
  rel: Buffer;
  inode: Inode;
  /** First path of a hardlinked inode (metadata is applied there only). */
  primary: boolean;
}

function relBytes(path: string): Buffer {
  return path === '/' ? Buffer.from('.') : Buffer.from(path.slice(1), 'latin1');
}

async function checkOutDir(outDir: string, allowNonEmpty: boolean): Promise<void> {
  let st;
  try {
    st = await lstat(outDir);
  } catch {
    await makeDirectory(outDir); // the user's path (node's mkdir -p can loop)
    return;
  }
  if (!st.isDirectory()) throw new Oci2fsError(ErrorCode.USAGE, `Output ${outDir} exists and is not a directory (symlinks are not followed)`);
  if (!allowNonEmpty && (await readdir(outDir)).length > 0) {
    throw new Oci2fsError(ErrorCode.USAGE, `Output directory ${outDir} is not empty; choose a new or empty directory (or allow writing into a non-empty one)`);
  }
}

const isUtf8 = (b: Buffer): boolean => Buffer.from(b.toString('utf8'), 'utf8').equals(b);

async function makeSocket(abs: Buffer, tmpAbs: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmpAbs, () => resolve());
  });
  try {
    await rename(tmpAbs, abs);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * Writes `tree` under `outDir` (created when missing). The root directory's
 * metadata is applied to `outDir` itself.
 */
export async function writeDir(tree: ValidatedTree, outDir: string, opts: WriteDirOptions = {}): Promise<WriteDirResult> {
  await checkOutDir(outDir, opts.allowNonEmpty ?? false);
  const at = { path: '/' };
  const sources = new ContentSources();
  try {
    return await writeEntries(tree, outDir, opts, at, sources);
  } catch (e) {
    if (e instanceof Oci2fsError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const hint = code === 'ENAMETOOLONG' ? ' (paths longer than PATH_MAX cannot be written by the dir writer)' : code === 'ENOSPC' ? ' (disk full)' : '';
    throw new Oci2fsError(ErrorCode.IO, `Writing ${JSON.stringify(at.path)} under ${outDir} failed: ${(e as Error).message}${hint}`, { cause: e });
  } finally {
    sources.close();
  }
}

async function writeEntries(tree: ValidatedTree, outDir: string, opts: WriteDirOptions, at: { path: string }, sources: ContentSources): Promise<WriteDirResult> {
  const rootless = opts.rootless ?? process.geteuid?.() !== 0;
  const skipped: WriteDirResult['skipped'] = [];
  const skip = (path: string, what: string): void => {
    skipped.push({ path, what });
  };
  const base = Buffer.from(outDir);
  const abs = (rel: Buffer): Buffer => Buffer.concat([base, Buffer.from('/'), rel]);
  const tmp = new TmpNames(tree.root);

  const items: Item[] = [];
  const seen = new Set<Inode>();
  walk(tree.root, (path, inode) => {
    if (inode.kind === 'file' && inode.content.kind === 'external') {
      throw new Oci2fsError(ErrorCode.TREE_INVALID, `File ${JSON.stringify(path)} has no content here (only a reference: ${inode.content.payload}); the dir output needs file contents`);
    }
    const primary = inode.kind === 'dir' || !seen.has(inode);
    seen.add(inode);
    items.push({ path, rel: relBytes(path), inode, primary });
  });
  const firstRel = new Map<Inode, Buffer>();
  /** Xattrs to set, by raw relative path (insertion order = walk order). */
  const xattrJobs = new Map<string, Map<string, Uint8Array>>();
  const addXattr = (rel: Buffer, name: string, value: Uint8Array): void => {
    const key = rel.toString('latin1');
    let m = xattrJobs.get(key);
    if (m === undefined) xattrJobs.set(key, (m = new Map()));
    m.set(name, value);
  };

  // Node's utimes takes float seconds, rounds to microseconds and maps
  // negative times to "now": such times go through touch(1).
  const exactInNode = (i: Inode): boolean => i.mtimeNsec === 0 && i.mtimeSec >= 0;
  const scratch = Buffer.allocUnsafe(STREAM_BUFFER_BYTES); // contents pass through it: small, see util/stream-buffer.ts

  // Pass 1: create (pre-order) and chown.
  let done = 0;
  for (const it of items) {
    at.path = it.path;
    const { inode } = it;
    const p = abs(it.rel);
    if (it.path !== '/') {
      if (!it.primary) {
        const first = firstRel.get(inode);
        if (first === undefined) skip(it.path, `hardlink to ${inode.kind} that was not created`);
        else linkSync(abs(first), p);
        continue;
      }
      if (inode.kind !== 'dir' && !(rootless && (inode.kind === 'chardev' || inode.kind === 'blockdev'))) firstRel.set(inode, it.rel);
      switch (inode.kind) {
        case 'dir':
          mkdirSync(p, 0o700);
          break;
        case 'file':
          // Owner, mode (root: nothing may come between chown and chmod
          // but xattrs, which root can set on any mode) and exact times go
          // through the new descriptor; unprivileged, the mode waits for
          // the xattr batch (user.* xattrs need write permission).
          await writeContent(p, inode, sources, scratch, {
            ...(rootless ? {} : { owner: { uid: inode.uid, gid: inode.gid }, mode: inode.mode }),
            ...(exactInNode(inode) ? { mtimeSec: inode.mtimeSec } : {}),
          });
          break;
        case 'symlink':
          symlinkSync(Buffer.from(inode.target, 'latin1'), p);
          break;
        case 'fifo': {
          const t = tmp.next();
          await run('mknod', ['-m', '0600', t, 'p'], outDir);
          renameSync(join(outDir, t), p);
          break;
        }
        case 'chardev':
        case 'blockdev': {
          if (rootless) {
            skip(it.path, `${inode.kind} ${inode.rdevMajor}:${inode.rdevMinor} (device nodes need root)`);
            continue;
          }
          const t = tmp.next();
          await run('mknod', ['-m', '0600', t, inode.kind === 'chardev' ? 'c' : 'b', String(inode.rdevMajor), String(inode.rdevMinor)], outDir);
          renameSync(join(outDir, t), p);
          break;
        }
        case 'socket':
          await makeSocket(p, join(outDir, tmp.next()));
          break;
      }
    }
    // Linux allows user.* xattrs on regular files and directories only (xattr(7)).
    const userXattrsOk = inode.kind === 'file' || inode.kind === 'dir';
    if (rootless) {
      const owner = encodeRootlessOwner(inode.uid, inode.gid);
      if (owner !== null) {
        if (!userXattrsOk) skip(it.path, `owner ${inode.uid}:${inode.gid} (a ${inode.kind} cannot carry the ${ROOTLESS_XATTR} xattr)`);
        else addXattr(it.rel, ROOTLESS_XATTR, owner);
      }
    } else if (it.path === '/') {
      chownSync(p, inode.uid, inode.gid);
    } else if (inode.kind !== 'file') {
      lchownSync(p, inode.uid, inode.gid); // files: done through their descriptor
    }
    if (inode.xattrs.size > 0) {
      for (const [k, v] of inode.xattrs) {
        const user = k.startsWith('user.');
        if (user && !userXattrsOk) skip(it.path, `xattr ${k} (user.* xattrs are not allowed on a ${inode.kind})`);
        else if (rootless && !user) skip(it.path, `xattr ${k} (needs root)`);
        else addXattr(it.rel, k, v);
      }
    }
    if (++done % 1000 === 0) opts.events?.({ type: 'write-progress', phase: 'dir', done, total: items.length });
  }
  sources.close(); // contents are all read

  // Xattrs in one batch, after every chown.
  await restoreXattrs(outDir, tmp.next(), [...xattrJobs].map(([path, xattrs]) => ({ path, xattrs })));

  const created = (it: Item): boolean => it.primary && !(rootless && (it.inode.kind === 'chardev' || it.inode.kind === 'blockdev'));

  // Pass 2: every time Node cannot set exactly, in one python3 run, while
  // every directory is still searchable (mode 0700 from mkdir). Post-order,
  // though nothing from here on changes a directory's entries (chmod and
  // times change no directory), so its time stays as set.
  const nsTimes: NsTime[] = [];
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i];
    if (created(it) && !exactInNode(it.inode)) nsTimes.push({ rel: it.rel, sec: it.inode.mtimeSec, nsec: it.inode.mtimeNsec });
  }
  at.path = '/';
  const nsDone = await setNsTimesPython(outDir, nsTimes);

  // Without python3: nanosecond times of non-directories with UTF-8 paths,
  // one touch per distinct timestamp; the others in pass 3.
  const nsBatches = new Map<string, string[]>();
  for (const it of nsDone ? [] : items) {
    if (!created(it) || it.inode.kind === 'dir' || exactInNode(it.inode) || !isUtf8(it.rel)) continue;
    const stamp = touchStamp(it.inode.mtimeSec, it.inode.mtimeNsec);
    const list = nsBatches.get(stamp) ?? [];
    list.push(it.rel.toString('utf8'));
    nsBatches.set(stamp, list);
  }
  for (const [stamp, paths] of [...nsBatches].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
    for (let i = 0; i < paths.length; ) {
      const chunk: string[] = [];
      let len = 0;
      while (i < paths.length && (chunk.length === 0 || len + paths[i].length < TOUCH_ARGS_BYTES)) {
        len += paths[i].length + 1;
        chunk.push(paths[i++]);
      }
      at.path = '/' + chunk[0];
      await run('touch', ['-h', '-c', '-d', stamp, '--', ...chunk], outDir);
    }
  }

  /** One exact time through touch(1), for a path that is not UTF-8 or a directory (pass 3). */
  const touchOne = (it: Item): Promise<void> =>
    withUtf8Path(outDir, tmp, it.rel, isUtf8, (rp) => run('touch', ['-h', '-c', '-d', touchStamp(it.inode.mtimeSec, it.inode.mtimeNsec), '--', rp], outDir));

  // Pass 3 (post-order: children before their directory): modes, then the other timestamps.
  for (let i = items.length - 1; i >= 0; i--) {
    const it = items[i];
    at.path = it.path;
    const { inode } = it;
    if (!created(it)) continue;
    const p = it.path === '/' ? base : abs(it.rel);
    if (inode.kind === 'file') {
      // owner, times (and as root the mode) were set in pass 1
      if (rootless) chmodSync(p, inode.mode);
      if (!exactInNode(inode) && !nsDone && !isUtf8(it.rel)) await touchOne(it);
      continue;
    }
    if (inode.kind !== 'symlink') chmodSync(p, inode.mode);
    if (exactInNode(inode)) {
      if (inode.kind === 'symlink') lutimesSync(p, inode.mtimeSec, inode.mtimeSec);
      else utimesSync(p, inode.mtimeSec, inode.mtimeSec);
    } else if (!nsDone && (inode.kind === 'dir' || !isUtf8(it.rel))) {
      await touchOne(it);
    }
  }
  opts.events?.({ type: 'write-progress', phase: 'dir', done: items.length, total: items.length });
  return { skipped };
}

/** Bytes of path arguments per `touch` run (well below ARG_MAX). */
const TOUCH_ARGS_BYTES = 64 * 1024;

/** touch(1) date for an exact time: "@SEC.NNNNNNNNN"; "@-2.5" is 2.5 s before the epoch. */
export function touchStamp(sec: number, nsec: number): string {
  return sec >= 0 || nsec === 0 ? `@${sec}.${String(nsec).padStart(9, '0')}` : `@-${-sec - 1}.${String(1e9 - nsec).padStart(9, '0')}`;
}
