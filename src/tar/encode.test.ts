/**
 * The header encoder, checked by GNU tar: archives we encode are extracted
 * by GNU tar (as root, with xattrs) and every file is compared by lstat,
 * readlink, content and python's getxattr / getcap; GNU tar's listing is
 * checked for values we cannot extract (sizes > 8 GiB).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHeader, endOfArchive, paddingFor, paxHeaderName, splitUstarPath, TAR_BLOCK, type TarHeaderInput } from './encode.js';
import { readTar } from './reader.js';

const IS_ROOT = process.getuid?.() === 0;
const HAVE_PYTHON = spawnSync('python3', ['-c', 'import os; os.getxattr']).status === 0;
const HAVE_GETCAP = spawnSync('getcap', ['/dev/null']).error === undefined;

const CAP = Buffer.from('0100000200040000000000000000000000000000', 'hex');
const BIN = Buffer.from([0x00, 0x0a, 0xff, 0x3d, 0x80, 0x0a]);

function entry(e: Partial<TarHeaderInput> & Pick<TarHeaderInput, 'path' | 'type'>): TarHeaderInput {
  return { mode: 0o644, uid: 0, gid: 0, mtimeSec: 1_000_000, mtimeNsec: 0, size: 0, linkname: '', devMajor: 0, devMinor: 0, xattrs: new Map(), ...e };
}

const A = 'a'.repeat(120);
const LONG = `deep/${A}/${A}/${A}/leaf`; // > 255 bytes: needs pax path
const SPLIT = `${'p'.repeat(140)}/${'n'.repeat(90)}`; // fits prefix + name
const NONUTF8 = `deep/${A}/${A}/bad-\xff\xfe`;

interface Item {
  e: TarHeaderInput;
  data?: Buffer;
}

const items: Item[] = [
  { e: entry({ path: 'deep/', type: 'dir', mode: 0o755 }) },
  { e: entry({ path: `deep/${A}/`, type: 'dir', mode: 0o700 }) },
  { e: entry({ path: `deep/${A}/${A}/`, type: 'dir', mode: 0o755 }) },
  { e: entry({ path: `deep/${A}/${A}/${A}/`, type: 'dir', mode: 0o755 }) },
  { e: entry({ path: LONG, type: 'file', size: 11, mode: 0o4755, uid: 3_000_000, gid: 2_097_152, mtimeSec: 1_600_000_000, mtimeNsec: 123_456_789, xattrs: new Map([['user.bin', BIN], ['security.capability', CAP]]) }), data: Buffer.from('leaf data\n\0') },
  { e: entry({ path: NONUTF8, type: 'file', size: 3, mtimeSec: -100, mtimeNsec: 250_000_000 }), data: Buffer.from('abc') },
  { e: entry({ path: `${'p'.repeat(140)}/`, type: 'dir', mode: 0o755 }) },
  { e: entry({ path: SPLIT, type: 'file', size: 5 }), data: Buffer.from('split') },
  { e: entry({ path: 'deep/sym', type: 'symlink', linkname: `${A}/${A}/target-\xff`, mode: 0o777 }) },
  { e: entry({ path: 'deep/hard', type: 'hardlink', linkname: LONG }) },
  { e: entry({ path: 'deep/chr', type: 'chardev', devMajor: 4095, devMinor: 1_048_575, mode: 0o600 }) },
  { e: entry({ path: 'deep/blk', type: 'blockdev', devMajor: 8, devMinor: 1, mode: 0o660 }) },
  { e: entry({ path: 'deep/fifo', type: 'fifo', mode: 0o640, mtimeSec: 8_589_934_592 }) }, // > 0o77777777777
  { e: entry({ path: 'deep/empty', type: 'file', mtimeSec: 0 }), data: Buffer.alloc(0) },
];

function archive(list: Item[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const { e, data } of list) {
    parts.push(encodeHeader(e));
    if (data) parts.push(data, new Uint8Array(paddingFor(data.length)));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

test('GNU tar extracts what we encode: long/non-UTF-8 paths, big ids, ns and negative mtimes, devices, binary xattrs', { skip: !IS_ROOT && 'needs root to restore owners and devices' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-encode-'));
  try {
    const tarPath = join(dir, 'out.tar');
    const bytes = archive(items);
    assert.equal(bytes.length % TAR_BLOCK, 0);
    fs.writeFileSync(tarPath, bytes);
    const ex = join(dir, 'x');
    fs.mkdirSync(ex);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xf', tarPath, '-C', ex]);
    const at = (p: string): Buffer => Buffer.concat([Buffer.from(`${ex}/`), Buffer.from(p, 'latin1')]);
    for (const { e, data } of items) {
      const p = at(e.path);
      const st = fs.lstatSync(p, { bigint: true });
      const what = JSON.stringify(e.path.slice(-40));
      if (e.type === 'hardlink') {
        assert.equal(st.ino, fs.lstatSync(at(e.linkname), { bigint: true }).ino, `${what}: hardlink`);
        continue;
      }
      assert.equal(Number(st.mode & 0o7777n), e.mode, `${what}: mode`);
      assert.equal(Number(st.uid), e.uid, `${what}: uid`);
      assert.equal(Number(st.gid), e.gid, `${what}: gid`);
      if (e.type !== 'dir' && e.type !== 'symlink') {
        assert.equal(st.mtimeNs, BigInt(e.mtimeSec) * 1_000_000_000n + BigInt(e.mtimeNsec), `${what}: mtime`);
      }
      if (e.type === 'file') assert.deepEqual(fs.readFileSync(p), data, `${what}: content`);
      if (e.type === 'symlink') assert.equal(fs.readlinkSync(p, { encoding: 'buffer' }).toString('latin1'), e.linkname);
      if (e.type === 'chardev' || e.type === 'blockdev') {
        assert.equal(st.isCharacterDevice(), e.type === 'chardev');
        const rdev = Number(st.rdev);
        const major = (rdev >>> 8) & 0xfff;
        const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
        assert.deepEqual([major, minor], [e.devMajor, e.devMinor], `${what}: device numbers`);
      }
    }
    if (HAVE_PYTHON) {
      const script = 'import os,sys\np=bytes.fromhex(sys.argv[1])\nfor n in sorted(os.listxattr(p)): print(n, os.getxattr(p, n).hex())';
      const out = execFileSync('python3', ['-c', script, at(LONG).toString('hex')]).toString();
      assert.equal(out, `security.capability ${CAP.toString('hex')}\nuser.bin ${BIN.toString('hex')}\n`);
    }
    if (HAVE_GETCAP) {
      // getcap takes a path; use a short symlink-free copy of the name via the hardlink.
      assert.match(execFileSync('getcap', [join(ex, 'deep/hard')]).toString(), /cap_net_bind_service[=+]ep/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('ustar is used when it fits; pax only for what does not; determinism', () => {
  const simple = encodeHeader(entry({ path: SPLIT, type: 'file', size: 5 }));
  assert.equal(simple.length, TAR_BLOCK, 'prefix/name split needs no pax header');
  const b = Buffer.from(simple);
  assert.equal(b.subarray(345, 345 + 140).toString(), 'p'.repeat(140));
  assert.equal(b.subarray(0, 90).toString(), 'n'.repeat(90));
  assert.equal(b.subarray(257, 265).toString('latin1'), 'ustar\x0000');
  assert.equal(b.subarray(265, 329).toString('latin1'), '\0'.repeat(64), 'uname/gname empty');
  const long = Buffer.from(encodeHeader(items[4].e));
  assert.equal(long[156], 0x78, "pax 'x' header first");
  assert.equal(long.subarray(0, 100).toString('latin1').replace(/\0+$/, ''), 'PaxHeaders/leaf');
  assert.equal(long.subarray(100, 108).toString(), '0000644\0');
  assert.equal(long.subarray(136, 148).toString(), '00000000000\0');
  assert.deepEqual(encodeHeader(items[4].e), encodeHeader(items[4].e));
  const text = long.subarray(512, long.length - 512).toString('latin1');
  assert.match(text, /^\d+ path=deep\/a+/);
  assert.match(text, /\d+ uid=3000000\n/);
  assert.match(text, /\d+ gid=2097152\n/);
  assert.match(text, /\d+ mtime=1600000000.123456789\n/);
  assert.ok(text.indexOf('SCHILY.xattr.security.capability') < text.indexOf('SCHILY.xattr.user.bin'), 'xattrs sorted');
  assert.doesNotMatch(text, /hdrcharset/, 'valid UTF-8 path needs no hdrcharset');
  const bin = Buffer.from(encodeHeader(items[5].e)).toString('latin1');
  assert.match(bin, /\d+ hdrcharset=BINARY\n/);
  assert.match(bin, /\d+ mtime=-99.75\n/);
});

test('names of pax headers and ustar path splitting', () => {
  assert.equal(paxHeaderName('a/b/c'), 'PaxHeaders/c');
  assert.equal(paxHeaderName('a/b/'), 'PaxHeaders/b');
  assert.equal(paxHeaderName('/'), 'PaxHeaders/.');
  assert.equal(paxHeaderName(`x/${'z'.repeat(200)}`), `PaxHeaders/${'z'.repeat(89)}`);
  assert.deepEqual(splitUstarPath('short'), { prefix: '', name: 'short' });
  assert.equal(splitUstarPath('x'.repeat(101)), null);
  assert.equal(splitUstarPath(`${'d'.repeat(156)}/f`), null, 'prefix too long');
  assert.deepEqual(splitUstarPath(`a/${'d'.repeat(99)}/`), { prefix: 'a', name: `${'d'.repeat(99)}/` });
  assert.equal(splitUstarPath(`a/${'d'.repeat(100)}/`), null, 'the trailing slash counts');
  assert.equal(splitUstarPath(`a/${'d'.repeat(101)}`), null, 'name too long');
});

test('sizes beyond 8 GiB go to pax size (GNU tar lists them)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-encode-'));
  try {
    const size = 2 ** 34 + 3;
    const header = Buffer.from(encodeHeader(entry({ path: 'huge', type: 'file', size })));
    assert.match(header.toString('latin1'), /\d+ size=17179869187\n/);
    const tarPath = join(dir, 'h.tar');
    fs.writeFileSync(tarPath, Buffer.concat([header, Buffer.alloc(4096)])); // data cut short
    const r = spawnSync('tar', ['-tv', '--numeric-owner', '-f', tarPath]);
    assert.match(r.stdout.toString(), /0\/0\s+17179869187 .* huge/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('our reader reads back what we encode', async () => {
  const bytes = archive(items);
  const got = [];
  async function* once(): AsyncGenerator<Uint8Array> {
    yield bytes;
  }
  for await (const e of readTar(once(), { label: 'roundtrip' })) got.push(e);
  assert.equal(got.length, items.length);
  got.forEach((g, i) => {
    const e = items[i].e;
    assert.deepEqual(
      [g.path, g.type, g.mode, g.uid, g.gid, g.mtimeSec, g.mtimeNsec, g.size, g.linkname, g.devMajor, g.devMinor],
      [e.path, e.type, e.mode, e.uid, e.gid, e.mtimeSec, e.mtimeNsec, e.type === 'file' ? e.size : 0, e.linkname, e.devMajor, e.devMinor],
    );
    assert.deepEqual(g.xattrs, new Map([...e.xattrs].map(([k, v]) => [k, new Uint8Array(v)])));
  });
});

test('encodeHeader rejects what it cannot represent', () => {
  assert.throws(() => encodeHeader(entry({ path: '', type: 'file' })), /empty path/);
  assert.throws(() => encodeHeader(entry({ path: 'a\0b', type: 'file' })), /NUL/);
  assert.throws(() => encodeHeader(entry({ path: 'caf\u00e9\u20ac', type: 'file' })), /byte string/);
  assert.throws(() => encodeHeader(entry({ path: 'x', type: 'file', uid: -1 })), /uid/);
  assert.throws(() => encodeHeader(entry({ path: 'x', type: 'file', mtimeNsec: 1e9 })), /mtime/);
  assert.throws(() => encodeHeader(entry({ path: 'x', type: 'file', xattrs: new Map([['user.a=b', new Uint8Array(1)]]) })), /xattr name/);
});

test('encodeSparseMap is what parseSparse10Map reads back (block-padded), for empty, one and many runs', async () => {
  const { encodeSparseMap, parseSparse10Map } = await import('./sparse.js');
  const { DEFAULT_TAR_LIMITS } = await import('./constants.js');
  const many = Array.from({ length: 100 }, (_, i) => ({ offset: i * 1_000_000_000, length: 4096 + i }));
  for (const runs of [[], [{ offset: 0, length: 1 }], many]) {
    const map = encodeSparseMap(runs);
    assert.equal(map.length % TAR_BLOCK, 0);
    const back = parseSparse10Map(map, { label: 't', offset: 0 }, DEFAULT_TAR_LIMITS);
    assert.deepEqual(back, { runs, mapBytes: map.length });
  }
});

test('a header decodes the same from a Buffer and from a plain Uint8Array (names split into prefix and name, link names, byte strings)', async () => {
  const { decodeHeader } = await import('./header.js');
  const input: TarHeaderInput = {
    path: `${'d'.repeat(120)}/caf\xe9-name`, type: 'symlink', mode: 0o777, uid: 1, gid: 2, mtimeSec: 3, mtimeNsec: 0,
    size: 0, linkname: 'target/\xff', devMajor: 0, devMinor: 0, xattrs: new Map(),
  };
  const block = encodeHeader(input).subarray(0, TAR_BLOCK);
  const ctx = { label: 'test', offset: 0 };
  const fromBuffer = decodeHeader(Buffer.from(block), ctx);
  const fromPlain = decodeHeader(new Uint8Array(block), ctx);
  assert.deepEqual(fromPlain, fromBuffer);
  assert.equal(fromBuffer.name, input.path);
  assert.equal(fromBuffer.linkname, input.linkname);
});
