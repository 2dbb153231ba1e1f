/**
 * Test helper (not exported from index.ts): compares a directory on the
 * host (an fsck.erofs extraction or a kernel mount) with the tree it was
 * built from, file by file, using only the host's view (lstat, readlink,
 * read, getfattr).
 */
import { lstat, readdir, readlink, open } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readRange } from './range.js';
import { devMajor, devMinor, walk, type DirInode, type FileInode, type Inode } from '../../tree/types.js';

export interface CompareOptions {
  /** Compare xattrs (getfattr) too. */
  xattrs?: boolean;
  /** Compare nanoseconds of mtimes. */
  nsec?: boolean;
  /** Treat char devices 0:0 as composefs shows them through overlayfs (empty regular files). */
  composefsWhiteouts?: boolean;
  /**
   * fsck.erofs 1.5 extraction limits: it drops setuid/setgid (chmod before
   * chown) and extracts hardlinks as separate files.
   */
  fsckExtract?: boolean;
  /** Xattr names to ignore on the host side (e.g. overlay metadata). */
  ignoreXattr?: (name: string) => boolean;
}

const TYPE: Record<Inode['kind'], number> = {
  file: 0o100000, dir: 0o040000, symlink: 0o120000, chardev: 0o020000, blockdev: 0o060000, fifo: 0o010000, socket: 0o140000,
};

function hostPath(base: string, rel: string): Buffer {
  return Buffer.concat([Buffer.from(base), Buffer.from(rel === '/' ? '' : rel, 'latin1')]);
}

/** Samples of a file (whole when small; start, end and sparse segments when large) as hashes. */
async function sample(f: FileInode): Promise<[number, number][]> {
  if (f.size <= 1 << 20) return [[0, f.size]];
  const ranges: [number, number][] = [[0, 65536], [f.size - 65536, 65536], [Math.floor(f.size / 2), 4096]];
  if (f.content.kind === 'file' && f.content.sparse) for (const s of f.content.sparse) ranges.push([s.offset, Math.min(s.length, 1 << 20)]);
  return ranges;
}

async function hostRange(p: Buffer, off: number, len: number): Promise<Buffer> {
  const fh = await open(p, 'r');
  try {
    const b = Buffer.alloc(len);
    const { bytesRead } = await fh.read(b, 0, len, off);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function hostXattrs(p: Buffer): Map<string, string> {
  const out = execFileSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', '--', p.toString('latin1')], { encoding: 'latin1' });
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('#') || eq < 0) continue;
    m.set(line.slice(0, eq), line.slice(eq + 3).toLowerCase());
  }
  return m;
}

/** Returns a list of differences (empty when the host tree matches). */
export async function compareWithHost(root: DirInode, base: string, opts: CompareOptions = {}): Promise<string[]> {
  const diffs: string[] = [];
  const entries: [string, Inode][] = [];
  walk(root, (path, inode) => entries.push([path, inode]));
  const inoOf = new Map<Inode, bigint>();
  for (const [path, inode] of entries) {
    const p = hostPath(base, path);
    const where = JSON.stringify(path);
    let st;
    try {
      st = await lstat(p, { bigint: true });
    } catch (e) {
      diffs.push(`${where}: missing (${(e as Error).message})`);
      continue;
    }
    const whiteout = opts.composefsWhiteouts && inode.kind === 'chardev' && inode.rdevMajor === 0 && inode.rdevMinor === 0;
    const wantType = whiteout ? 0o100000 : TYPE[inode.kind];
    const permMask = opts.fsckExtract ? 0o1777 : 0o7777;
    if ((Number(st.mode) & (0o170000 | permMask)) !== (wantType | (inode.mode & permMask))) diffs.push(`${where}: mode ${st.mode.toString(8)} != ${(wantType | inode.mode).toString(8)}`);
    if (Number(st.uid) !== inode.uid || Number(st.gid) !== inode.gid) diffs.push(`${where}: owner ${st.uid}:${st.gid} != ${inode.uid}:${inode.gid}`);
    const NS = 1_000_000_000n;
    const sec = st.mtimeNs >= 0n ? st.mtimeNs / NS : -((-st.mtimeNs + NS - 1n) / NS);
    const nsec = st.mtimeNs - sec * NS;
    if (sec !== BigInt(inode.mtimeSec) || (opts.nsec && nsec !== BigInt(inode.mtimeNsec))) {
      diffs.push(`${where}: mtime ${sec}.${nsec} != ${inode.mtimeSec}.${inode.mtimeNsec}`);
    }
    if (inode.kind !== 'dir' && !opts.fsckExtract) {
      const prev = inoOf.get(inode);
      if (prev === undefined) inoOf.set(inode, st.ino);
      else if (prev !== st.ino) diffs.push(`${where}: hardlink has inode ${st.ino}, expected ${prev}`);
    }
    switch (inode.kind) {
      case 'file': {
        if (Number(st.size) !== inode.size) {
          diffs.push(`${where}: size ${st.size} != ${inode.size}`);
          break;
        }
        for (const [off, len] of await sample(inode)) {
          const want = createHash('sha256').update(await readRange(inode, off, len)).digest('hex');
          const got = createHash('sha256').update(await hostRange(p, off, len)).digest('hex');
          if (want !== got) diffs.push(`${where}: content differs in [${off}, ${off + len})`);
        }
        break;
      }
      case 'symlink': {
        const t = (await readlink(p, { encoding: 'buffer' })).toString('latin1');
        if (t !== inode.target) diffs.push(`${where}: symlink target differs`);
        break;
      }
      case 'chardev':
      case 'blockdev':
        if (!whiteout && (devMajor(Number(st.rdev)) !== inode.rdevMajor || devMinor(Number(st.rdev)) !== inode.rdevMinor)) {
          diffs.push(`${where}: device ${st.rdev} differs`);
        }
        break;
      case 'dir': {
        const names = (await readdir(p, { encoding: 'buffer' })).map((b) => b.toString('latin1')).sort();
        const want = [...inode.children.keys()].sort();
        if (names.join('/') !== want.join('/')) diffs.push(`${where}: entries [${names.length}] differ from [${want.length}]`);
        break;
      }
      default:
        break;
    }
    if (opts.xattrs) {
      const host = hostXattrs(p);
      for (const [k, v] of host) {
        if (opts.ignoreXattr?.(k)) continue;
        const want = inode.xattrs.get(k);
        if (!want) diffs.push(`${where}: unexpected xattr ${k}`);
        else if (Buffer.from(want).toString('hex') !== v) diffs.push(`${where}: xattr ${k} differs`);
      }
      for (const k of inode.xattrs.keys()) if (!host.has(k) && !opts.ignoreXattr?.(k)) diffs.push(`${where}: xattr ${k} missing`);
    }
  }
  return diffs;
}
