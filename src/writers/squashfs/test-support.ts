/**
 * Helpers for the squashfs writer tests (not used by the library): tree
 * builders, a minimal tar reader for sqfs2tar output, and the checks that
 * compare an image, read by independent tools, with the tree it came from.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, readdirSync, mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll } from '../../tree/content.js';
import type { TestContext } from 'node:test';
import {
  countLinks, walk, type DirInode, type FileInode, type Inode, type DeviceInode, type SymlinkInode, type SpecialInode,
} from '../../tree/types.js';

type Base = Pick<Inode, 'mode' | 'uid' | 'gid' | 'mtimeSec' | 'mtimeNsec' | 'xattrs'>;

export function base(o: Partial<Base> = {}): Base {
  return { mode: 0o755, uid: 0, gid: 0, mtimeSec: 1_700_000_000, mtimeNsec: 0, xattrs: new Map(), ...o };
}

export function inlineFile(data: Uint8Array, o: Partial<Base> = {}): FileInode {
  return { kind: 'file', ...base({ mode: 0o644, ...o }), size: data.length, content: { kind: 'inline', data } };
}

export function diskFile(path: string, offset: number, length: number, o: Partial<Base> = {}): FileInode {
  return { kind: 'file', ...base({ mode: 0o644, ...o }), size: length, content: { kind: 'file', path, offset, length } };
}

export function dir(entries: [string, Inode][], o: Partial<Base> = {}): DirInode {
  return { kind: 'dir', ...base(o), children: new Map(entries) };
}

export function symlink(target: string, o: Partial<Base> = {}): SymlinkInode {
  return { kind: 'symlink', ...base({ mode: 0o777, ...o }), target };
}

export function device(kind: 'chardev' | 'blockdev', major: number, minor: number, o: Partial<Base> = {}): DeviceInode {
  return { kind, ...base({ mode: 0o660, ...o }), rdevMajor: major, rdevMinor: minor };
}

export function special(kind: 'fifo' | 'socket', o: Partial<Base> = {}): SpecialInode {
  return { kind, ...base({ mode: 0o644, ...o }) };
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = (i & 64) === 0 ? x & 0xff : (i >> 3) & 0x7f; // half random, half compressible
  }
  return b;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function hasTool(name: string, arg = '--version'): boolean {
  return spawnSync(name, [arg]).error === undefined;
}

/** Every path of the tree in pre-order (byte strings, "" for the root is skipped). */
export function entries(root: DirInode): [string, Inode][] {
  const out: [string, Inode][] = [];
  walk(root, (p, x) => { if (p !== '/') out.push([p.slice(1), x]); });
  return out;
}

/** ls-style permission string, as unsquashfs -lln prints it. */
export function permString(x: Inode): string {
  const t = { file: '-', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's' }[x.kind];
  const m = x.mode;
  const rwx = (shift: number, special: number, ch: string): string => {
    const r = m & (4 << shift) ? 'r' : '-';
    const w = m & (2 << shift) ? 'w' : '-';
    const xb = (m & (1 << shift)) !== 0;
    const s = (m & special) !== 0;
    const e = s ? (xb ? ch : ch.toUpperCase()) : xb ? 'x' : '-';
    return r + w + e;
  };
  return t + rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

/**
 * How unsquashfs 4.5 prints a device number: it splits the stored (Linux
 * new_encode_dev) value as major = dev >> 8, minor = dev & 0xff, which is
 * right only for minors below 256 (the kernel decodes larger ones properly;
 * the mount test checks those).
 */
function unsquashfsDevice(major: number, minor: number): string {
  const dev = ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
  return `${dev >>> 8},\\s*${dev & 0xff}`;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Runs `unsquashfs -lln` and checks it lists exactly the tree: names (raw
 * bytes, in order), types, modes, owners, sizes (files), device numbers,
 * mtimes (minute resolution, UTC) and link targets.
 */
export function checkUnsquashfsListing(image: string, root: DirInode): void {
  const out = execFileSync('unsquashfs', ['-lln', image], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 1 << 28 }).toString('latin1');
  let pos = 0;
  const all: [string, Inode][] = [['', root], ...entries(root)];
  for (const [p, x] of all) {
    const d = new Date(Math.min(Math.max(x.mtimeSec, 0), 0xffffffff) * 1000).toISOString();
    const date = `${d.slice(0, 10)} ${d.slice(11, 16)}`;
    const size = x.kind === 'file' ? String(x.size)
      : x.kind === 'chardev' || x.kind === 'blockdev' ? unsquashfsDevice(x.rdevMajor, x.rdevMinor)
      : x.kind === 'symlink' ? String(x.target.length)
      : x.kind === 'dir' ? '\\d+' : '0';
    const name = escapeRe(p === '' ? 'squashfs-root' : `squashfs-root/${p}`);
    const target = x.kind === 'symlink' ? ` -> ${escapeRe(x.target)}` : '';
    const re = new RegExp(`${escapeRe(permString(x))} ${x.uid}/${x.gid}\\s+${size} ${date} ${name}${target}\n`, 'y');
    re.lastIndex = pos;
    const m = re.exec(out);
    assert.ok(m, `unsquashfs listing differs at ${JSON.stringify(p)}: got ${JSON.stringify(out.slice(pos, pos + 200))}, wanted ${re.source}`);
    pos = re.lastIndex;
  }
  assert.equal(pos, out.length, `unsquashfs lists extra entries: ${JSON.stringify(out.slice(pos, pos + 200))}`);
}

export interface TarEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  data: Buffer;
  xattrs: Map<string, Buffer>;
}

function octal(b: Buffer, off: number, len: number): number {
  if (b[off] & 0x80) {
    // GNU base-256: big-endian binary in the rest of the field
    let v = b[off] & 0x3f;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = b.toString('latin1', off, off + len).replace(/\0.*$/s, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.toString('latin1', off, off + len);
  const z = s.indexOf('\0');
  return z < 0 ? s : s.slice(0, z);
}

/** A minimal ustar/pax/GNU reader (enough for sqfs2tar output). Names are byte strings. */
export function parseTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let pax = new Map<string, Buffer>();
  let longName: string | null = null;
  let longLink: string | null = null;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((c) => c === 0)) break;
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      let i = 0;
      while (i < data.length) {
        const sp = data.indexOf(0x20, i);
        const len = parseInt(data.toString('latin1', i, sp), 10);
        const rec = data.subarray(sp + 1, i + len - 1);
        const eq = rec.indexOf(0x3d);
        pax.set(rec.toString('latin1', 0, eq), Buffer.from(rec.subarray(eq + 1)));
        i += len;
      }
      continue;
    }
    if (type === 'L') { longName = cstr(data, 0, data.length); continue; }
    if (type === 'K') { longLink = cstr(data, 0, data.length); continue; }
    if (type === 'g') continue;
    const prefix = cstr(h, 345, 155);
    let path = longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    if (pax.has('path')) path = pax.get('path')!.toString('latin1');
    let linkname = longLink ?? cstr(h, 157, 100);
    if (pax.has('linkpath')) linkname = pax.get('linkpath')!.toString('latin1');
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
    out.push({
      path: path.replace(/^\.\//, '').replace(/\/$/, ''), type, mode: octal(h, 100, 8), uid: pax.has('uid') ? Number(pax.get('uid')!.toString()) : octal(h, 108, 8),
      gid: pax.has('gid') ? Number(pax.get('gid')!.toString()) : octal(h, 116, 8), size: pax.has('size') ? Number(pax.get('size')!.toString()) : size,
      mtime: pax.has('mtime') ? Math.floor(Number(pax.get('mtime')!.toString())) : octal(h, 136, 12),
      linkname, devmajor: octal(h, 329, 8), devminor: octal(h, 337, 8), data: Buffer.from(data), xattrs,
    });
    pax = new Map();
    longName = null;
    longLink = null;
  }
  return out;
}

/**
 * Extracts the image with sqfs2tar (squashfs-tools-ng) and checks every entry
 * against the tree: type, mode, owner, mtime, content hash, link target,
 * hardlinks, device numbers and xattrs.
 */
export async function checkSqfs2tar(image: string, root: DirInode): Promise<void> {
  const tar = execFileSync('sqfs2tar', [image], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
  const got = new Map(parseTar(tar).map((e) => [e.path, e]));
  const firstPath = new Map<Inode, string>();
  const links = countLinks(root);
  for (const [p, x] of entries(root)) {
    const e = got.get(p);
    if (x.kind === 'socket' && !e) continue; // sqfs2tar leaves sockets out: tar cannot hold them
    assert.ok(e, `sqfs2tar output lacks ${JSON.stringify(p)}`);
    got.delete(p);
    assert.equal(e.mode & 0o7777, x.mode, `${p}: mode`);
    assert.equal(e.uid, x.uid, `${p}: uid`);
    assert.equal(e.gid, x.gid, `${p}: gid`);
    assert.equal(e.mtime, x.mtimeSec, `${p}: mtime`);
    const hard = x.kind !== 'dir' && (links.get(x) ?? 1) > 1 && firstPath.has(x);
    if (hard) {
      assert.equal(e.type, '1', `${p}: expected a hardlink entry`);
      assert.equal(e.linkname, firstPath.get(x), `${p}: hardlink target`);
      continue;
    }
    firstPath.set(x, p);
    const want = { file: '0', dir: '5', symlink: '2', chardev: '3', blockdev: '4', fifo: '6', socket: null }[x.kind];
    if (want !== null) assert.equal(e.type, want, `${p}: type`);
    if (x.kind === 'file') assert.equal(sha256(e.data), sha256(await readAll(x)), `${p}: content`);
    if (x.kind === 'symlink') assert.equal(e.linkname, x.target, `${p}: link target`);
    if (x.kind === 'chardev' || x.kind === 'blockdev') {
      assert.equal(e.devmajor, x.rdevMajor, `${p}: major`);
      assert.equal(e.devminor, x.rdevMinor, `${p}: minor`);
    }
    const wantX = [...x.xattrs].filter(([k]) => /^(user|trusted|security)\./.test(k)).sort();
    const gotX = [...e.xattrs].sort();
    assert.deepEqual(gotX.map(([k, v]) => [k, v.toString('hex')]), wantX.map(([k, v]) => [k, Buffer.from(v).toString('hex')]), `${p}: xattrs`);
  }
  // sqfs2tar skips sockets (tar cannot hold them); nothing else may be left.
  assert.deepEqual([...got.keys()].filter((k) => k !== '' && k !== '.'), [], 'sqfs2tar lists entries that are not in the tree');
}

/** Loop-mounts `image` read-only; returns the mount point, or a reason why it cannot. */
export function tryMount(image: string): { dir: string } | { reason: string } {
  if (process.getuid?.() !== 0) return { reason: 'not root: cannot loop-mount' };
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-sqmnt-'));
  const r = spawnSync('mount', ['-t', 'squashfs', '-o', 'loop,ro', image, dir]);
  if (r.status !== 0) {
    rmdirSync(dir);
    return { reason: `mount -t squashfs failed: ${r.stderr?.toString().trim()}` };
  }
  return { dir };
}

/** Mounts `image` with squashfuse (FUSE); returns the mount point, or why it cannot. */
export function tryFuseMount(image: string): { dir: string } | { reason: string } {
  if (!hasTool('squashfuse', '--help')) return { reason: 'squashfuse not installed' };
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-sqfuse-'));
  const r = spawnSync('squashfuse', [image, dir], { timeout: 30_000 });
  if (r.status !== 0) {
    rmdirSync(dir);
    return { reason: `squashfuse failed: ${r.stderr?.toString().trim()}` };
  }
  return { dir };
}

export function unmount(dir: string): void {
  execFileSync('umount', [dir]);
  rmdirSync(dir);
}

/**
 * Loop-mounts `image`, runs `use` on the mount point, unmounts (also when
 * `use` throws). Where mounting is impossible the test is skipped with the
 * reason (or, with `whenUnavailable: 'note'`, a diagnostic is left and the
 * test passes on its other checks); false is returned then.
 */
export async function withMount(
  t: TestContext,
  image: string,
  use: (dir: string) => void | Promise<void>,
  whenUnavailable: 'skip' | 'note' = 'skip',
): Promise<boolean> {
  const m = tryMount(image);
  if ('reason' in m) {
    if (whenUnavailable === 'skip') t.skip(m.reason);
    else t.diagnostic(`kernel check skipped: ${m.reason}`);
    return false;
  }
  try {
    await use(m.dir);
  } finally {
    unmount(m.dir);
  }
  return true;
}

/** Reads xattrs of a mounted path with getfattr (hex values). */
function getfattr(path: Buffer): Map<string, string> {
  const r = spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', path.toString('latin1')]); // ASCII names only
  const m = new Map<string, string>();
  for (const line of r.stdout.toString('latin1').split('\n')) {
    const eq = line.indexOf('=');
    if (line.startsWith('#') || eq < 0) continue;
    m.set(line.slice(0, eq), line.slice(eq + 1).replace(/^0x/, ''));
  }
  return m;
}

/**
 * Compares a kernel mount with the tree, file by file: lstat (type, mode,
 * owner, size, mtime, nlink, rdev, hardlink identity), readlink, content
 * hash and xattrs (getfattr, only where the tree has some).
 */
export async function checkMounted(mnt: string, root: DirInode, opts: { xattrs?: 'all' | 'user' | 'none'; inodeNumbers?: boolean; emptyXattrValues?: boolean } = {}): Promise<void> {
  const links = countLinks(root);
  const inoOf = new Map<Inode, number>();
  const top = readdirSync(mnt, { encoding: 'buffer' }).map((n) => n.toString('latin1')).sort();
  assert.deepEqual(top, [...root.children.keys()].sort(), '/: readdir');
  for (const [p, x] of entries(root)) {
    const path = Buffer.concat([Buffer.from(mnt + '/'), Buffer.from(p, 'latin1')]);
    const st = lstatSync(path);
    assert.equal(st.mode & 0o7777, x.mode, `${p}: mode`);
    assert.equal(st.uid, x.uid, `${p}: uid`);
    assert.equal(st.gid, x.gid, `${p}: gid`);
    assert.equal(Math.floor(st.mtimeMs / 1000), x.mtimeSec, `${p}: mtime`);
    assert.equal(st.nlink, links.get(x), `${p}: nlink`);
    const seen = inoOf.get(x);
    if (seen !== undefined && opts.inodeNumbers !== false) assert.equal(st.ino, seen, `${p}: hardlink inode number`);
    else inoOf.set(x, st.ino);
    switch (x.kind) {
      case 'file':
        assert.ok(st.isFile(), `${p}: type`);
        assert.equal(st.size, x.size, `${p}: size`);
        if (x.size <= 64 << 20) assert.equal(sha256(readFileSync(path)), sha256(await readAll(x)), `${p}: content`);
        break;
      case 'dir': {
        assert.ok(st.isDirectory(), `${p}: type`);
        // readdir walks the listing (and seeks through the directory index between getdents calls)
        const names = readdirSync(path, { encoding: 'buffer' }).map((n) => n.toString('latin1')).sort();
        assert.deepEqual(names, [...x.children.keys()].sort(), `${p}: readdir`);
        break;
      }
      case 'symlink':
        assert.ok(st.isSymbolicLink(), `${p}: type`);
        assert.equal(readlinkSync(path, { encoding: 'buffer' }).toString('latin1'), x.target, `${p}: target`);
        break;
      case 'chardev':
      case 'blockdev':
        assert.ok(x.kind === 'chardev' ? st.isCharacterDevice() : st.isBlockDevice(), `${p}: type`);
        assert.equal(st.rdev, ((x.rdevMinor & 0xff) | (x.rdevMajor << 8) | ((x.rdevMinor & ~0xff) << 12)) >>> 0, `${p}: rdev`);
        break;
      case 'fifo': assert.ok(st.isFIFO(), `${p}: type`); break;
      case 'socket': assert.ok(st.isSocket(), `${p}: type`); break;
    }
    const which = opts.xattrs ?? 'all';
    if (which !== 'none' && x.xattrs.size > 0) {
      const keep = which === 'all' ? /^(user|trusted|security)\./ : /^user\./;
      const want = new Map([...x.xattrs].filter(([k, v]) => keep.test(k) && (v.length > 0 || opts.emptyXattrValues !== false)).map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
      const got = new Map([...getfattr(path)].filter(([k]) => keep.test(k)));
      assert.deepEqual(got, want, `${p}: xattrs`);
    }
  }
}
