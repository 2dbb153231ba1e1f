/**
 * The reader against archives made by GNU tar in every format it writes
 * (gnu, oldgnu, pax with sparse 0.0/0.1/1.0, ustar, v7). Each archive is
 * also extracted by GNU tar; every entry we decode must match the extracted
 * file (type, mode, ids, mtime to the nanosecond, size, link target,
 * xattrs, content incl. sparse holes), and the set of paths must match.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTarWithData, readTarFile } from './reader.js';
import type { TarEntry } from './entry.js';

const HAVE_TAR = spawnSync('tar', ['--version']).status === 0;
const HAVE_SETCAP = spawnSync('setcap', ['-v', 'cap_chown+ep', '/dev/null']).error === undefined;
const HAVE_PYTHON = spawnSync('python3', ['-c', 'import os; os.setxattr']).status === 0;
const IS_ROOT = process.getuid?.() === 0;

let dir = '';
let full = ''; // tree with everything (gnu, oldgnu, pax)
let simple = ''; // tree that ustar/v7 can hold

/** Capability v2 blob: cap_net_bind_service permitted+effective (binary, with NULs). */
const CAP_HEX = '0100000200040000000000000000000000000000';
/** Binary user xattr value: NUL, newline, 0xff, '=', 0x80 (not UTF-8). */
const BIN_XATTR = Buffer.from([0x00, 0x0a, 0xff, 0x3d, 0x80]);

function pySetXattr(path: string, name: string, value: Buffer): void {
  execFileSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), follow_symlinks=False)', path, name, value.toString('hex')]);
}

/**
 * xattrs of every file under `root` (one python3 run, lstat-style, names as
 * bytes): hex of the path relative to root -> (xattr name -> hex value).
 */
function pyXattrTree(root: string): Map<string, Map<string, string>> {
  const script = [
    'import os,sys',
    'r=os.fsencode(sys.argv[1])',
    'for d,ds,fs in os.walk(r):',
    ' for n in ds+fs:',
    '  p=os.path.join(d,n)',
    '  for x in sorted(os.listxattr(p, follow_symlinks=False)):',
    '   print(os.path.relpath(p,r).hex(), x, os.getxattr(p, x, follow_symlinks=False).hex())',
  ].join('\n');
  const out = new Map<string, Map<string, string>>();
  for (const line of execFileSync('python3', ['-c', script, root]).toString().split('\n').filter(Boolean)) {
    const [p, n, v] = line.split(' ');
    if (!out.has(p)) out.set(p, new Map());
    out.get(p)!.set(n, v ?? '');
  }
  return out;
}

before(async () => {
  if (!HAVE_TAR) return;
  dir = await mkdtemp(join(tmpdir(), 'oci2fs-gnutar-'));
  full = join(dir, 'full');
  simple = join(dir, 'simple');
  for (const root of [full, simple]) {
    fs.mkdirSync(join(root, 'd'), { recursive: true });
    fs.writeFileSync(join(root, 'd/f'), 'hello\n');
    fs.symlinkSync('d/f', join(root, 'sl'));
    fs.linkSync(join(root, 'd/f'), join(root, 'hl'));
    fs.writeFileSync(join(root, 'empty'), '');
    fs.chmodSync(join(root, 'd/f'), 0o4751);
    fs.chownSync(join(root, 'd/f'), 1234, 5678);
  }
  const a = 'a'.repeat(120);
  fs.mkdirSync(join(full, a, a), { recursive: true });
  fs.writeFileSync(join(full, a, a, 'file'), 'long\n'); // path > 255 bytes
  fs.writeFileSync(join(full, 'b'.repeat(101)), 'x'); // name > 100 bytes
  fs.symlinkSync(`${a}/${a}/file`, join(full, 'longlink')); // target > 100 bytes
  fs.writeFileSync(Buffer.from(join(full, 'bad-\xff\xfe-utf8'), 'latin1'), 'not utf-8 name');
  fs.writeFileSync(join(full, 'bigid'), 'id');
  fs.chownSync(join(full, 'bigid'), 3_000_000, 4_000_000); // > 0o7777777: base-256 / pax
  spawnSync('mkfifo', [join(full, 'fifo')]);
  // Sparse: 1 MiB logical, data at 64 KiB and 512 KiB, ending in a hole.
  const sp = fs.openSync(join(full, 'sparse'), 'w');
  fs.writeSync(sp, Buffer.alloc(4096, 0x61), 0, 4096, 64 << 10);
  fs.writeSync(sp, Buffer.alloc(8192, 0x62), 0, 8192, 512 << 10);
  fs.ftruncateSync(sp, 1 << 20);
  fs.closeSync(sp);
  // 30 data segments: more than the 4 of a GNU 'S' header (extension blocks).
  const many = fs.openSync(join(full, 'sparse-many'), 'w');
  for (let i = 0; i < 30; i++) fs.writeSync(many, Buffer.alloc(4096, 0x41 + i), 0, 4096, i * (64 << 10) + (32 << 10));
  fs.ftruncateSync(many, 30 * (64 << 10));
  fs.closeSync(many);
  // Fractional and pre-1970 mtimes (pax keeps nanoseconds).
  fs.utimesSync(join(full, 'd/f'), 1_600_000_000.25, 1_600_000_000.25);
  fs.utimesSync(join(full, 'empty'), -86_400 * 365, -86_400 * 365);
  if (HAVE_SETCAP && IS_ROOT) execFileSync('setcap', ['cap_net_bind_service+ep', join(full, 'd/f')]);
  if (HAVE_PYTHON) pySetXattr(join(full, 'bigid'), 'user.bin', BIN_XATTR);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Decoded {
  entry: TarEntry;
  /** sha256 of the logical content (sparse holes as zeros). */
  digest: string;
}

async function decode(tarPath: string): Promise<Decoded[]> {
  const out: Decoded[] = [];
  for await (const { entry, data } of readTarWithData(createReadStream(tarPath), { label: tarPath })) {
    const h = createHash('sha256');
    const segments = entry.sparse ?? [{ offset: 0, length: entry.dataLength }];
    let logical = 0;
    let seg = 0;
    let segLeft = segments[0]?.length ?? 0;
    for await (const chunk of data) {
      let at = 0;
      while (at < chunk.length) {
        while (segLeft === 0) segLeft = segments[++seg].length;
        if (logical < segments[seg].offset) {
          h.update(Buffer.alloc(segments[seg].offset - logical));
          logical = segments[seg].offset;
        }
        const n = Math.min(segLeft, chunk.length - at);
        h.update(chunk.subarray(at, at + n));
        at += n;
        segLeft -= n;
        logical += n;
      }
    }
    if (entry.type === 'file' && logical < entry.size) h.update(Buffer.alloc(entry.size - logical));
    out.push({ entry, digest: h.digest('hex') });
  }
  return out;
}

function typeOf(st: fs.BigIntStats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

/** All paths under root (byte strings, "./"-prefixed like GNU tar writes them). */
function walk(root: string): Set<string> {
  const out = new Set<string>(['./']);
  const rec = (rel: Buffer): void => {
    for (const name of fs.readdirSync(Buffer.concat([Buffer.from(root + '/'), rel]), { encoding: 'buffer' })) {
      const child = rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = fs.lstatSync(Buffer.concat([Buffer.from(root + '/'), child]));
      out.add(`./${child.toString('latin1')}${st.isDirectory() ? '/' : ''}`);
      if (st.isDirectory()) rec(child);
    }
  };
  rec(Buffer.alloc(0));
  return out;
}

async function checkAgainstExtraction(tarPath: string, opts: { xattrs: boolean }): Promise<Decoded[]> {
  const ex = `${tarPath}.x`;
  fs.mkdirSync(ex);
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xf', tarPath, '-C', ex]);
  const decoded = await decode(tarPath);
  const xattrTree = opts.xattrs && HAVE_PYTHON ? pyXattrTree(ex) : new Map<string, Map<string, string>>();
  for (const { entry: e, digest } of decoded) {
    const p = Buffer.concat([Buffer.from(ex + '/'), Buffer.from(e.path, 'latin1')]);
    const st = fs.lstatSync(p, { bigint: true });
    const what = `${tarPath}: ${JSON.stringify(e.path)}`;
    if (e.type === 'hardlink') {
      const target = fs.lstatSync(Buffer.concat([Buffer.from(ex + '/'), Buffer.from(e.linkname, 'latin1')]), { bigint: true });
      assert.equal(st.ino, target.ino, `${what}: hardlink target`);
      continue;
    }
    assert.equal(e.type, typeOf(st), `${what}: type`);
    assert.equal(e.mode, Number(st.mode & 0o7777n), `${what}: mode`);
    assert.equal(e.uid, Number(st.uid), `${what}: uid`);
    assert.equal(e.gid, Number(st.gid), `${what}: gid`);
    if (e.type !== 'symlink' && e.type !== 'dir') {
      const ns = BigInt(e.mtimeSec) * 1_000_000_000n + BigInt(e.mtimeNsec);
      // GNU tar restores exactly what the archive holds (whole seconds without pax).
      assert.equal(ns, st.mtimeNs, `${what}: mtime`);
    }
    if (e.type === 'symlink') assert.equal(e.linkname, fs.readlinkSync(p, { encoding: 'buffer' }).toString('latin1'), `${what}: target`);
    if (e.type === 'file') {
      assert.equal(BigInt(e.size), st.size, `${what}: size`);
      assert.equal(digest, createHash('sha256').update(fs.readFileSync(p)).digest('hex'), `${what}: content`);
    }
    if (opts.xattrs && HAVE_PYTHON && e.type !== 'symlink') {
      const rel = Buffer.from(e.path.replace(/^\.\/?/, '').replace(/\/$/, '') || '.', 'latin1').toString('hex');
      const want = xattrTree.get(rel) ?? new Map<string, string>();
      const got = new Map([...e.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
      assert.deepEqual(got, want, `${what}: xattrs`);
    }
  }
  return decoded;
}

function makeTar(root: string, name: string, args: string[]): string {
  const out = join(dir, name);
  execFileSync('tar', [...args, '--numeric-owner', '-cf', out, '-C', root, '.']);
  return out;
}

for (const [format, extra] of [
  // No --xattrs here: with it GNU tar silently writes pax instead.
  ['gnu', ['--format=gnu', '--sparse']],
  ['oldgnu', ['--format=oldgnu', '--sparse']],
  ['pax-sparse-0.0', ['--format=pax', '--sparse-version=0.0', '--xattrs', '--xattrs-include=*']],
  ['pax-sparse-0.1', ['--format=pax', '--sparse-version=0.1', '--xattrs', '--xattrs-include=*']],
  ['pax-sparse-1.0', ['--format=pax', '--sparse-version=1.0', '--xattrs', '--xattrs-include=*']],
] as const) {
  test(`GNU tar ${format} archive decodes like GNU tar extracts it`, { skip: !HAVE_TAR && 'GNU tar missing' }, async () => {
    const tarPath = makeTar(full, `${format}.tar`, [...extra]);
    const isPax = format.startsWith('pax');
    const magic = fs.readFileSync(tarPath).subarray(257, 265).toString('latin1');
    assert.equal(magic, isPax ? 'ustar\x0000' : 'ustar  \x00', 'GNU tar wrote the format we asked for');
    const decoded = await checkAgainstExtraction(tarPath, { xattrs: isPax });
    assert.deepEqual(new Set(decoded.map((d) => d.entry.path)), walk(full), 'same set of paths as the source tree');
    const sparse = decoded.find((d) => d.entry.path === './sparse')?.entry;
    assert.ok(sparse?.sparse, 'sparse file is decoded as sparse');
    assert.equal(sparse.size, 1 << 20);
    assert.ok(sparse.sparse.every((s) => s.offset + s.length <= 1 << 20));
    assert.equal(sparse.dataLength, sparse.sparse.reduce((n, s) => n + s.length, 0));
    assert.ok(sparse.dataLength < 64 << 10, 'holes are not stored');
    const many = decoded.find((d) => d.entry.path === './sparse-many')?.entry;
    assert.equal(many?.sparse?.length, 30, 'all 30 segments (GNU: header + extension blocks)');
    assert.deepEqual(many.sparse[29], { offset: 29 * (64 << 10) + (32 << 10), length: 4096 });
    const big = decoded.find((d) => d.entry.path === './bigid')?.entry;
    assert.equal(big?.uid, 3_000_000);
    assert.equal(big?.gid, 4_000_000);
    if (HAVE_PYTHON && isPax) {
      assert.deepEqual(big?.xattrs.get('user.bin'), new Uint8Array(BIN_XATTR));
    }
    if (HAVE_SETCAP && IS_ROOT && format.startsWith('pax')) {
      const f = decoded.find((d) => d.entry.type === 'file' && d.entry.size === 6)!.entry;
      assert.equal(Buffer.from(f.xattrs.get('security.capability') ?? []).toString('hex'), CAP_HEX);
    }
    const links = decoded.filter((d) => d.entry.type === 'hardlink').map((d) => [d.entry.path, d.entry.linkname].sort());
    assert.deepEqual(links, [['./d/f', './hl']]);
    const long = decoded.find((d) => d.entry.type === 'symlink' && d.entry.path === './longlink')?.entry;
    assert.equal(long?.linkname, `${'a'.repeat(120)}/${'a'.repeat(120)}/file`);
  });
}

for (const format of ['ustar', 'v7'] as const) {
  test(`GNU tar ${format} archive decodes like GNU tar extracts it`, { skip: !HAVE_TAR && 'GNU tar missing' }, async () => {
    const tarPath = makeTar(simple, `${format}.tar`, [`--format=${format}`]);
    const decoded = await checkAgainstExtraction(tarPath, { xattrs: false });
    assert.deepEqual(new Set(decoded.map((d) => d.entry.path)), walk(simple));
    assert.deepEqual(decoded.map((d) => d.entry.type).sort(), ['dir', 'dir', 'file', 'file', 'hardlink', 'symlink']);
  });
}

test('readTarFile lists the same entries with the same data offsets', { skip: !HAVE_TAR && 'GNU tar missing' }, async () => {
  const tarPath = makeTar(full, 'offsets.tar', ['--format=pax', '--sparse-version=1.0']);
  const viaStream = (await decode(tarPath)).map((d) => d.entry);
  const viaFile: TarEntry[] = [];
  for await (const e of readTarFile(tarPath, { label: 'offsets' })) viaFile.push(e);
  assert.deepEqual(viaFile, viaStream);
  // dataOffset really points at the data: "hello\n" of d/f.
  const f = viaFile.find((e) => e.type === 'file' && e.size === 6)!;
  const fd = fs.openSync(tarPath, 'r');
  const buf = Buffer.alloc(f.dataLength);
  fs.readSync(fd, buf, 0, f.dataLength, f.dataOffset);
  fs.closeSync(fd);
  assert.equal(buf.toString(), 'hello\n');
});

/** GNU tar's --full-time rendering of a time in UTC: "YYYY-MM-DD HH:MM:SS[.frac]". */
function gnuTime(sec: number, nsec: number): string {
  const base = new Date(sec * 1000).toISOString().slice(0, 19).replace('T', ' ');
  const frac = String(nsec).padStart(9, '0').replace(/0+$/, '');
  return frac ? `${base}.${frac}` : base;
}

for (const [name, args] of [
  ['pax', ['--format=pax', '--sparse', '--xattrs', '--xattrs-include=*']],
  ['gnu', ['--format=gnu', '--sparse']],
] as const) {
  test(`${name}: entries match \`tar --xattrs -tvv --full-time --numeric-owner\``, { skip: !HAVE_TAR && 'GNU tar missing' }, async () => {
    const tarPath = makeTar(full, `listing-${name}.tar`, [...args]);
    const listing = execFileSync(
      'tar',
      ['--xattrs', '--xattrs-include=*', '-tvv', '--full-time', '--numeric-owner', '--quoting-style=literal', '-f', tarPath],
      { env: { ...process.env, TZ: 'UTC' } },
    ).toString('latin1');
    // Entry lines, each with the "  x: LEN NAME" xattr lines that follow it.
    const lines: { line: string; xattrs: string[] }[] = [];
    for (const l of listing.split('\n').filter(Boolean)) {
      if (l.startsWith('  x: ')) lines[lines.length - 1].xattrs.push(l.slice(5));
      else lines.push({ line: l, xattrs: [] });
    }
    const entries: TarEntry[] = [];
    for await (const e of readTarFile(tarPath, { label: 'listing' })) entries.push(e);
    assert.equal(lines.length, entries.length);
    const typeChar: Record<string, string> = { file: '-', dir: 'd', symlink: 'l', hardlink: 'h', fifo: 'p', chardev: 'c', blockdev: 'b' };
    entries.forEach((e, i) => {
      const { line, xattrs } = lines[i];
      const m = /^(\S)(\S{9})[*+]?\s+(\d+)\/(\d+)\s+(\d+) (\S+ \S+) +(.*)$/.exec(line); // time column is padded
      assert.ok(m, line);
      const [, t, , uid, gid, size, time, rest] = m;
      assert.equal(t === '-' && e.type === 'hardlink' ? 'h' : t, typeChar[e.type], line);
      assert.equal(Number(uid), e.uid, line);
      assert.equal(Number(gid), e.gid, line);
      assert.equal(Number(size), e.size, line);
      // GNU tar 1.34 mis-renders negative times with a fraction; ours has none.
      assert.equal(time, gnuTime(e.mtimeSec, e.mtimeNsec), line);
      const path = e.type === 'symlink' ? rest.split(' -> ')[0] : e.type === 'hardlink' ? rest.split(' link to ')[0] : rest;
      assert.equal(path, e.path, line);
      if (e.type === 'symlink' || e.type === 'hardlink') assert.ok(rest.endsWith(e.linkname), line);
      assert.deepEqual(xattrs, [...e.xattrs].map(([k, v]) => `${v.length} ${k}`), `${line}: xattrs`);
    });
    if (name === 'pax' && HAVE_PYTHON) assert.ok(entries.some((e) => e.xattrs.size > 0), 'the listing has xattrs to compare');
  });
}
