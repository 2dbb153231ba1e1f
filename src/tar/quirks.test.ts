/**
 * The reader on hand-made archives: headers are assembled byte by byte here
 * (not with our encoder) to cover base-256 numbers, negative and fractional
 * times, binary pax values, checksums, truncation, limits, global headers
 * and other quirks. Where GNU tar can read the same bytes, it is asked too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isOci2fsError } from '../errors.js';
import { readTar, readTarWithData, type TarReadOptions } from './reader.js';
import type { TarEntry } from './entry.js';

interface RawFields {
  name?: string;
  mode?: string | Uint8Array;
  uid?: string | Uint8Array;
  gid?: string | Uint8Array;
  size?: string | Uint8Array;
  mtime?: string | Uint8Array;
  type?: string;
  linkname?: string;
  magic?: string; // 8 bytes magic+version
  prefix?: string;
  devmajor?: string;
  devminor?: string;
}

/** A header block built by hand; checksum unsigned unless told otherwise. */
function raw(f: RawFields, opts: { checksum?: 'signed' | 'bad' } = {}): Buffer {
  const b = Buffer.alloc(512);
  const put = (off: number, len: number, v: string | Uint8Array | undefined): void => {
    if (v === undefined) return;
    const bytes = typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v);
    assert.ok(bytes.length <= len, `field at ${off} too long`);
    bytes.copy(b, off);
  };
  put(0, 100, f.name ?? 'file');
  put(100, 8, f.mode ?? '0000644\0');
  put(108, 8, f.uid ?? '0000000\0');
  put(116, 8, f.gid ?? '0000000\0');
  put(124, 12, f.size ?? '00000000000\0');
  put(136, 12, f.mtime ?? '00000000000\0');
  put(156, 1, f.type ?? '0');
  put(157, 100, f.linkname);
  put(257, 8, f.magic ?? 'ustar\x0000');
  put(329, 8, f.devmajor);
  put(337, 8, f.devminor);
  put(345, 155, f.prefix);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += opts.checksum === 'signed' && c >= 0x80 ? c - 256 : c;
  if (opts.checksum === 'bad') sum += 1;
  const s = (sum < 0 ? sum + 0o1000000 : sum).toString(8).padStart(6, '0'); // signed sums are not negative here
  put(148, 8, `${s}\0 `);
  return b;
}

function pad(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function octal(n: number, len: number): string {
  return `${n.toString(8).padStart(len - 1, '0')}\0`;
}

/** A pax record "LEN key=value\n" with value bytes verbatim. */
function rec(key: string, value: string | Buffer): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const body = Buffer.byteLength(key) + v.length + 3;
  let len = body + 1;
  while (String(len).length + body !== len) len = String(len).length + body;
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'latin1'), v, Buffer.from('\n')]);
}

function pax(type: 'x' | 'g', ...records: Buffer[]): Buffer {
  const data = Buffer.concat(records);
  return Buffer.concat([raw({ name: 'PaxHeaders/x', type, size: octal(data.length, 12) }), pad(data)]);
}

function file(name: string, content: string, extra: RawFields = {}): Buffer {
  const data = Buffer.from(content);
  return Buffer.concat([raw({ name, size: octal(data.length, 12), ...extra }), pad(data)]);
}

const END = Buffer.alloc(1024);

/** Base-256 field: 0x80 marker, big-endian two's complement over len bytes. */
function base256(v: bigint, len: number): Uint8Array {
  const b = new Uint8Array(len);
  let x = v < 0n ? (1n << BigInt(8 * len)) + v : v;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (v >= 0n) b[0] |= 0x80;
  return b;
}

async function* chunks(buf: Buffer, size = 700): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function list(buf: Buffer, opts: Partial<TarReadOptions> = {}): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of readTar(chunks(buf), { label: 'test-layer', ...opts })) out.push(e);
  return out;
}

function rejectsWith(code: string, ...patterns: RegExp[]): (e: unknown) => boolean {
  return (e) => {
    assert.ok(isOci2fsError(e), String(e));
    assert.equal(e.code, code, e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  };
}

/** Writes `buf` to a temp file and runs GNU tar with `args` on it. */
async function gnuTar(buf: Buffer, args: string[]): Promise<{ out: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-quirk-'));
  fs.writeFileSync(join(dir, 'a.tar'), buf);
  fs.mkdirSync(join(dir, 'x'));
  const out = execFileSync('tar', [...args, '-f', join(dir, 'a.tar'), '-C', join(dir, 'x')], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return { out, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test('GNU base-256 numbers for size, uid, gid and a negative mtime (GNU tar agrees)', async () => {
  const data = Buffer.from('base256!');
  const archive = Buffer.concat([
    raw({ name: 'b256', magic: 'ustar  \0', size: base256(BigInt(data.length), 12), uid: base256(3_000_000n, 8), gid: base256(0x7fff_ffffn, 8), mtime: base256(-1000n, 12) }),
    pad(data),
    END,
  ]);
  const [e] = await list(archive);
  assert.equal(e.size, 8);
  assert.equal(e.uid, 3_000_000);
  assert.equal(e.gid, 0x7fff_ffff);
  assert.equal(e.mtimeSec, -1000);
  assert.equal(e.dataOffset, 512);
  const { out, cleanup } = await gnuTar(archive, ['-tv', '--full-time', '--numeric-owner']);
  await cleanup();
  assert.match(out, /^-rw-r--r-- 3000000\/2147483647\s+8 1969-12-31 23:43:20 b256$/m);
});

test('octal fields with leading spaces and space terminators; signed checksums of old tars', async () => {
  const name = 'caf\xe9'; // a byte >= 0x80 makes signed and unsigned sums differ
  const archive = Buffer.concat([
    raw({ name, mode: '   755 \0', uid: '  1750 ', gid: '12\0\0\0\0\0\0', size: '          0 ', mtime: ' 1234567 ' }, { checksum: 'signed' }),
    END,
  ]);
  const [e] = await list(archive);
  assert.deepEqual([e.path, e.mode, e.uid, e.gid, e.mtimeSec], [name, 0o755, 0o1750, 0o12, 0o1234567]);
});

test('a bad checksum is E_TAR_INVALID naming the layer and the entry offset', async () => {
  const archive = Buffer.concat([file('ok', 'x'), raw({ name: 'broken' }, { checksum: 'bad' }), END]);
  await assert.rejects(list(archive), rejectsWith(ErrorCode.TAR_INVALID, /test-layer/, /offset 1024/, /checksum/));
});

test('truncated archives: inside data, inside a header, after a pax header', async () => {
  const whole = Buffer.concat([file('a', 'x'.repeat(1000)), END]);
  await assert.rejects(list(whole.subarray(0, 900)), rejectsWith(ErrorCode.TAR_INVALID, /truncated/, /test-layer/));
  await assert.rejects(list(whole.subarray(0, 300)), rejectsWith(ErrorCode.TAR_INVALID, /truncated/));
  await assert.rejects(list(pax('x', rec('path', 'p'))), rejectsWith(ErrorCode.TAR_INVALID, /extension header/));
  // EOF cleanly between entries (no end blocks) is accepted, as GNU tar does.
  assert.equal((await list(whole.subarray(0, 512 + 1024))).length, 1);
});

test('pax times: fractions are exact nanoseconds, negative times floor (GNU tar extracts the same)', async () => {
  const cases: [string, number, number][] = [
    ['1234.5', 1234, 500_000_000],
    ['1700000000.123456789', 1_700_000_000, 123_456_789],
    ['1.1234567899', 1, 123_456_789], // digits past ns are cut
    ['-1.5', -2, 500_000_000],
    ['-0.000000001', -1, 999_999_999],
    ['-1.0000000001', -2, 999_999_999], // toward minus infinity
    ['-100', -100, 0],
    ['7.', 7, 0],
  ];
  const parts: Buffer[] = [];
  cases.forEach(([t], i) => parts.push(pax('x', rec('mtime', t)), file(`t${i}`, '')));
  const archive = Buffer.concat([...parts, END]);
  const entries = await list(archive);
  assert.deepEqual(entries.map((e) => [e.mtimeSec, e.mtimeNsec]), cases.map(([, s, n]) => [s, n]));
  const { dir, cleanup } = await gnuTar(archive, ['-x']);
  try {
    cases.forEach(([t, s, n], i) => {
      if (t.split('.')[1]?.length > 9) return; // GNU tar rounds differently past nanoseconds
      const st = fs.lstatSync(join(dir, 'x', `t${i}`), { bigint: true });
      assert.equal(st.mtimeNs, BigInt(s) * 1_000_000_000n + BigInt(n), `GNU tar mtime of ${t}`);
    });
  } finally {
    await cleanup();
  }
});

test('pax values are bytes: newline, NUL, 0xff in paths and xattr values', async () => {
  const weird = Buffer.from('dir/a\nb\xff\xfe=c', 'latin1');
  const value = Buffer.from([0x00, 0x0a, 0xff, 0x80, 0x3d, 0x0a]);
  const cap = Buffer.from('0100000200040000000000000000000000000000', 'hex');
  const archive = Buffer.concat([
    pax('x', rec('path', weird), rec('SCHILY.xattr.user.bin', value), rec('SCHILY.xattr.security.capability', cap), rec('hdrcharset', 'BINARY')),
    file('short', 'data'),
    pax('x', rec('linkpath', Buffer.from('t\n\xff', 'latin1'))),
    raw({ name: 'l', type: '2' }),
    END,
  ]);
  const [f, l] = await list(archive);
  assert.equal(f.path, weird.toString('latin1'));
  assert.deepEqual(Buffer.from(f.xattrs.get('user.bin')!), value);
  assert.deepEqual(Buffer.from(f.xattrs.get('security.capability')!), cap);
  assert.deepEqual([...f.xattrs.keys()], ['security.capability', 'user.bin'], 'xattrs in byte order');
  assert.equal(l.linkname, 't\n\xff');
  const { out, cleanup } = await gnuTar(archive, ['--xattrs', '--xattrs-include=*', '-tvv', '--quoting-style=escape']);
  await cleanup();
  assert.match(out, /dir\/a\\nb\\377\\376=c/, 'GNU tar sees the same path');
});

test('xattrs with an empty value are kept (GNU tar restores them; not the pax "unset" rule)', async () => {
  const archive = Buffer.concat([
    pax('g', rec('SCHILY.xattr.user.gempty', '')),
    pax('x', rec('SCHILY.xattr.user.empty', ''), rec('LIBARCHIVE.xattr.user.lempty', '')),
    file('f', 'x'),
    END,
  ]);
  const [e] = await list(archive);
  assert.deepEqual([...e.xattrs].map(([k, v]) => [k, v.length]), [['user.empty', 0], ['user.gempty', 0], ['user.lempty', 0]]);
  const { dir, cleanup } = await gnuTar(archive, ['--xattrs', '--xattrs-include=*', '-x']);
  try {
    const out = execFileSync('python3', ['-c', 'import os,sys; print(sorted((n, len(os.getxattr(sys.argv[1], n))) for n in os.listxattr(sys.argv[1])))', join(dir, 'x', 'f')]).toString();
    assert.match(out, /\('user\.empty', 0\)/, 'GNU tar restores the empty xattr');
  } finally {
    await cleanup();
  }
});

test('LIBARCHIVE.xattr: %-encoded names and base64 values; SCHILY wins for the same name', async () => {
  const archive = Buffer.concat([
    pax('x', rec('LIBARCHIVE.xattr.user.a%3Db%25', Buffer.from([1, 2, 255]).toString('base64')), rec('LIBARCHIVE.xattr.user.s', 'AAAA'), rec('SCHILY.xattr.user.s', 'schily')),
    file('f', ''),
    END,
  ]);
  const [e] = await list(archive);
  assert.deepEqual(Buffer.from(e.xattrs.get('user.a=b%')!), Buffer.from([1, 2, 255]));
  assert.equal(Buffer.from(e.xattrs.get('user.s')!).toString(), 'schily');
});

test('global pax headers apply to later entries; local records override; empty values unset', async () => {
  const archive = Buffer.concat([
    file('before', ''),
    pax('g', rec('uid', '4242'), rec('mtime', '99.5'), rec('SCHILY.xattr.user.g', 'G')),
    file('a', ''),
    pax('x', rec('uid', '7'), rec('mtime', '')),
    file('b', '', { mtime: octal(55, 12) }),
    pax('g', rec('uid', '')),
    file('c', '', { uid: octal(3, 8) }),
    END,
  ]);
  const [before, a, b, c] = await list(archive);
  assert.deepEqual([before.uid, before.mtimeSec, before.xattrs.size], [0, 0, 0]);
  assert.deepEqual([a.uid, a.mtimeSec, a.mtimeNsec, Buffer.from(a.xattrs.get('user.g')!).toString()], [4242, 99, 500_000_000, 'G']);
  assert.deepEqual([b.uid, b.mtimeSec, b.mtimeNsec], [7, 55, 0]);
  assert.deepEqual([c.uid, c.mtimeSec], [3, 99]);
});

test('limits: oversized pax header, long name, entry count are E_LIMIT naming the layer', async () => {
  const big = pax('x', rec('comment', 'x'.repeat(3000)));
  await assert.rejects(list(Buffer.concat([big, file('f', ''), END]), { limits: { maxPaxHeaderSize: 2048 } }), rejectsWith(ErrorCode.LIMIT, /test-layer/, /maxPaxHeaderSize/, /offset 0/));
  // Many small local headers before one entry add up.
  const many = Buffer.concat([...Array.from({ length: 4 }, () => pax('x', rec('comment', 'y'.repeat(600)))), file('f', ''), END]);
  await assert.rejects(list(many, { limits: { maxPaxHeaderSize: 2048 } }), rejectsWith(ErrorCode.LIMIT, /maxPaxHeaderSize/));
  const longName = Buffer.concat([raw({ name: '././@LongLink', type: 'L', size: octal(5000, 12), magic: 'ustar  \0' }), pad(Buffer.alloc(5000, 0x61)), file('f', ''), END]);
  await assert.rejects(list(longName, { limits: { maxLongNameSize: 4096 } }), rejectsWith(ErrorCode.LIMIT, /maxLongNameSize/));
  assert.equal((await list(longName))[0].path, 'a'.repeat(5000));
  const entries = Buffer.concat([file('1', ''), file('2', ''), file('3', ''), END]);
  await assert.rejects(list(entries, { limits: { maxEntries: 2 } }), rejectsWith(ErrorCode.LIMIT, /maxEntries/, /offset 1024/));
});

test('ustar prefix, v7 directories by trailing slash, GNU long link, devices', async () => {
  const archive = Buffer.concat([
    raw({ name: 'name', prefix: 'the/prefix' }),
    raw({ name: 'v7dir/', type: '\0', magic: '\0\0\0\0\0\0\0\0' }),
    raw({ name: 'v7file', type: '\0', magic: '\0\0\0\0\0\0\0\0', prefix: 'ignored' }),
    raw({ name: '././@LongLink', type: 'K', size: octal(4, 12), magic: 'ustar  \0' }),
    pad(Buffer.from('tgt\0')),
    raw({ name: 'hard', type: '1', linkname: 'short' }),
    raw({ name: 'c', type: '3', devmajor: octal(4095, 8), devminor: octal(1048575, 8) }),
    raw({ name: 'b', type: '4', devmajor: '0000010\0', devminor: '0000002\0' }),
    raw({ name: 'p', type: '6' }),
    raw({ name: 'gnu', magic: 'ustar  \0', prefix: '\x01garbage-atime' }),
    END,
  ]);
  const e = await list(archive);
  assert.deepEqual(e.map((x) => [x.path, x.type]), [
    ['the/prefix/name', 'file'], ['v7dir/', 'dir'], ['v7file', 'file'], ['hard', 'hardlink'],
    ['c', 'chardev'], ['b', 'blockdev'], ['p', 'fifo'], ['gnu', 'file'],
  ]);
  assert.equal(e[3].linkname, 'tgt');
  assert.deepEqual([e[4].devMajor, e[4].devMinor, e[5].devMajor, e[5].devMinor], [4095, 1048575, 8, 2]);
});

test('header-only types carry no data even with a size; GNU dumpdir data is skipped; volume labels skipped', async () => {
  const archive = Buffer.concat([
    raw({ name: 'V', type: 'V', magic: 'ustar  \0' }),
    raw({ name: 'sym', type: '2', linkname: 't', size: octal(5, 12) }), // Go archive/tar ignores this size too
    raw({ name: 'dump', type: 'D', size: octal(6, 12), magic: 'ustar  \0' }),
    pad(Buffer.from('Yfile\0')),
    file('olddir/', 'data of a "file/"'), // a directory by its slash; its data is skipped
    file('after', 'ok'),
    END,
  ]);
  const e = await list(archive);
  assert.deepEqual(e.map((x) => [x.path, x.type, x.size, x.dataLength]), [
    ['sym', 'symlink', 0, 0], ['dump', 'dir', 0, 0], ['olddir/', 'dir', 0, 0], ['after', 'file', 2, 2],
  ]);
});

test('unknown type flags and lone zero blocks: errors unless lenient', async () => {
  const unknown = Buffer.concat([raw({ name: 'q', type: 'Q', size: octal(3, 12) }), pad(Buffer.from('abc')), file('f', 'x'), END]);
  await assert.rejects(list(unknown), rejectsWith(ErrorCode.TAR_INVALID, /type flag "Q"/));
  assert.deepEqual((await list(unknown, { lenient: true })).map((x) => x.path), ['f']);
  // The skipped entry's size may come from a pax header.
  const paxSized = Buffer.concat([pax('x', rec('size', '700')), raw({ name: 'q', type: 'Q' }), pad(Buffer.alloc(700, 0x71)), file('g', 'y'), END]);
  assert.deepEqual((await list(paxSized, { lenient: true })).map((x) => x.path), ['g']);
  const lone = Buffer.concat([file('a', ''), Buffer.alloc(512), file('b', ''), END]);
  await assert.rejects(list(lone), rejectsWith(ErrorCode.TAR_INVALID, /lone zero block/));
  assert.deepEqual((await list(lone, { lenient: true })).map((x) => x.path), ['a', 'b']);
});

test('malformed pax records and sparse maps are E_TAR_INVALID', async () => {
  const bad = [
    pax('x', Buffer.from('5 a=b\n')), // wrong length
    pax('x', Buffer.from('x=1\n')), // no length
    pax('x', rec('uid', '12a')),
    pax('x', rec('mtime', '1e5')),
    pax('x', rec('GNU.sparse.size', '100'), rec('GNU.sparse.map', '0,10,5,10')), // overlap
    pax('x', rec('GNU.sparse.size', '10'), rec('GNU.sparse.map', '0,20')), // beyond size
    pax('x', rec('GNU.sparse.major', '2'), rec('GNU.sparse.minor', '0'), rec('GNU.sparse.realsize', '1')),
  ];
  for (const p of bad) {
    await assert.rejects(list(Buffer.concat([p, file('f', 'x'.repeat(20)), END])), rejectsWith(ErrorCode.TAR_INVALID, /test-layer/));
  }
});

test('readTarWithData: streamed data, partial reads skipped, stale data throws, trailing bytes consumed', async () => {
  const big = Buffer.alloc(5000, 0x42);
  const archive = Buffer.concat([file('one', big.toString()), file('two', 'second'), file('three', 'third'), END, Buffer.from('trailing junk')]);
  let pulled = 0;
  async function* counting(): AsyncGenerator<Uint8Array> {
    for await (const c of chunks(archive, 333)) {
      pulled += c.length;
      yield c;
    }
  }
  const seen: string[] = [];
  let stale: AsyncIterable<Uint8Array> | undefined;
  for await (const { entry, data } of readTarWithData(counting(), { label: 'wd' })) {
    if (entry.path === 'one') {
      const it = data[Symbol.asyncIterator]();
      const first = await it.next(); // read a little, leave the rest
      assert.ok(!first.done && first.value.every((b) => b === 0x42));
      assert.ok(pulled < archive.length, 'the source is pulled lazily');
      stale = data;
      continue;
    }
    const parts: Uint8Array[] = [];
    for await (const c of data) parts.push(c);
    seen.push(`${entry.path}:${Buffer.concat(parts).toString()}`);
  }
  assert.deepEqual(seen, ['two:second', 'three:third']);
  assert.equal(pulled, archive.length, 'the whole stream is consumed');
  await assert.rejects(async () => {
    for await (const _ of stale!) {
      // should not get here
    }
  }, rejectsWith(ErrorCode.INTERNAL, /after moving to the next entry/));
});

test('sparse 1.0 map in the data area: parsed, limited, must fit the entry', async () => {
  // Map "2\n0\n3\n10\n2\n" padded to a block, then 5 packed bytes.
  const map = pad(Buffer.from('2\n0\n3\n10\n2\n'));
  const data = Buffer.concat([map, Buffer.from('abcde')]);
  const hdr = pax('x', rec('GNU.sparse.major', '1'), rec('GNU.sparse.minor', '0'), rec('GNU.sparse.name', 'real/name'), rec('GNU.sparse.realsize', '20'));
  const entryBytes = Buffer.concat([hdr, raw({ name: 'GNUSparseFile.0/name', size: octal(data.length, 12) }), pad(data)]);
  const [e] = await list(Buffer.concat([entryBytes, file('next', 'n'), END]));
  assert.deepEqual([e.path, e.size, e.dataLength, e.dataOffset], ['real/name', 20, 5, hdr.length + 512 + 512]);
  assert.deepEqual(e.sparse, [{ offset: 0, length: 3 }, { offset: 10, length: 2 }]);
  await assert.rejects(list(Buffer.concat([entryBytes, END]), { limits: { maxSparseSegments: 1 } }), rejectsWith(ErrorCode.LIMIT, /maxSparseSegments/));
  // A map cut short by its padding.
  const short = Buffer.concat([hdr, raw({ name: 'n', size: octal(512, 12) }), pad(Buffer.from('1\n0\n'))]);
  await assert.rejects(list(Buffer.concat([short, END])), rejectsWith(ErrorCode.TAR_INVALID, /map ends before all its segments/));
  // A map that needs more blocks than the entry has (exactly one full block here).
  const full = Buffer.from(`200\n${'0\n'.repeat(254)}`);
  assert.equal(full.length, 512);
  const past = Buffer.concat([hdr, raw({ name: 'n', size: octal(512, 12) }), full]);
  await assert.rejects(list(Buffer.concat([past, END])), rejectsWith(ErrorCode.TAR_INVALID, /sparse 1.0 map runs past/));
});

test('pax size beyond 8 GiB is read as a number; the missing data is reported as truncation', async () => {
  const archive = Buffer.concat([pax('x', rec('size', String(2 ** 34 + 1))), raw({ name: 'huge' }), Buffer.alloc(4096)]);
  const seen: TarEntry[] = [];
  await assert.rejects(async () => {
    for await (const e of readTar(chunks(archive), { label: 'big' })) seen.push(e);
  }, rejectsWith(ErrorCode.TAR_INVALID, /truncated/));
  assert.deepEqual(seen.map((e) => [e.path, e.size, e.dataLength]), [['huge', 2 ** 34 + 1, 2 ** 34 + 1]]);
});
