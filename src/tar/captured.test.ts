import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CapturedBlocks } from './captured.js';
import { FileSource } from './source.js';
import { readEntries } from './entries.js';
import type { TarEntry } from './entry.js';
import { nativeInflate, type InflateCapture, type NativeInflate } from '../compress/native-inflate.js';

const pieces = (...p: number[]): Float64Array => new Float64Array(p);

test('CapturedBlocks: a read inside a piece gets the rest of that piece; gaps and the end get null', () => {
  const c = CapturedBlocks.from({ bytes: Buffer.from('abcdefgh'), pieces: pieces(0, 3, 10, 2, 20, 3) })!;
  assert.equal(Buffer.from(c.from(0)!).toString(), 'abc');
  assert.equal(Buffer.from(c.from(1)!).toString(), 'bc');
  assert.equal(c.from(3), null, 'just past a piece');
  assert.equal(c.from(9), null);
  assert.equal(Buffer.from(c.from(11)!).toString(), 'e');
  assert.equal(Buffer.from(c.from(22)!).toString(), 'h');
  assert.equal(c.from(23), null, 'past the last piece');
  // behind the pieces already passed
  assert.equal(Buffer.from(c.from(2)!).toString(), 'c');
  assert.equal(Buffer.from(c.from(20)!).toString(), 'fgh');
});

test('CapturedBlocks: pieces that do not add up are not used', () => {
  const b = Buffer.from('abcdef');
  assert.ok(CapturedBlocks.from({ bytes: b, pieces: pieces(0, 3, 5, 3) }));
  for (const [what, p] of [
    ['overlapping', pieces(0, 3, 2, 3)],
    ['out of order', pieces(5, 3, 0, 3)],
    ['more bytes than captured', pieces(0, 3, 5, 4)],
    ['fewer bytes than captured', pieces(0, 3)],
    ['an empty piece', pieces(0, 6, 10, 0)],
    ['a fraction', pieces(0.5, 6)],
    ['an odd count', pieces(0, 6, 9)],
  ] as const) {
    assert.equal(CapturedBlocks.from({ bytes: b, pieces: p }), undefined, what);
  }
});

const inflate = nativeInflate();
const HAVE_TAR = spawnSync('tar', ['--version']).status === 0;
const skip = !inflate ? 'the native addon was built without libisal (Debian package libisal-dev) or is missing' : !HAVE_TAR ? 'GNU tar missing' : false;

/** gzip of `tar` in members of `every` bytes: isal's output then stops at odd offsets, inside header blocks. */
function gzipInMembers(tar: Buffer, every: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < tar.length; at += every) parts.push(gzipSync(tar.subarray(at, at + every)));
  return Buffer.concat(parts);
}

/** The entries of the tar file, and how many reads of the file listing them took. */
async function list(path: string, captured?: CapturedBlocks): Promise<{ entries: TarEntry[]; reads: number }> {
  const src = await FileSource.open(path, captured);
  const entries: TarEntry[] = [];
  for await (const { entry } of readEntries(src, { label: path })) entries.push(entry);
  return { entries, reads: src.fileReads };
}

/** Spills `tar` (gzipped in odd members) with the addon, capturing; checks every piece against the tar. */
async function spillCapturing(dir: string, tar: Buffer): Promise<{ path: string; captured: CapturedBlocks }> {
  fs.writeFileSync(join(dir, 'in.gz'), gzipInMembers(tar, 4099));
  const path = join(dir, 'out.tar');
  const fd = fs.openSync(path, 'w+');
  let headers: InflateCapture | undefined;
  try {
    const outcome = await (inflate as NativeInflate)(join(dir, 'in.gz'), fd, Infinity, false, true);
    assert.equal(outcome.kind, 'ok');
    headers = outcome.kind === 'ok' ? outcome.headers : undefined;
  } finally {
    fs.closeSync(fd);
  }
  assert.ok(headers, 'the addon returned a capture');
  let at = 0;
  for (let i = 0; i < headers.pieces.length; i += 2) {
    const [start, length] = [headers.pieces[i], headers.pieces[i + 1]];
    assert.ok(tar.subarray(start, start + length).equals(headers.bytes.subarray(at, at + length)), `piece at ${start} holds the tar's bytes`);
    at += length;
  }
  const captured = CapturedBlocks.from(headers);
  assert.ok(captured, 'the pieces add up');
  return { path, captured };
}

/** A tree with what each tar format writes differently: long names and links, big ids, hardlinks, FIFOs, GNU sparse maps with extension blocks, xattrs. */
function makeTree(root: string): void {
  const a = 'a'.repeat(120);
  fs.mkdirSync(join(root, a, a), { recursive: true });
  fs.writeFileSync(join(root, a, a, 'file'), 'long\n');
  fs.writeFileSync(join(root, 'b'.repeat(101)), 'x');
  fs.symlinkSync(`${a}/${a}/file`, join(root, 'longlink'));
  fs.linkSync(join(root, 'b'.repeat(101)), join(root, 'hl'));
  fs.writeFileSync(join(root, 'bigid'), 'id');
  fs.chownSync(join(root, 'bigid'), 3_000_000, 4_000_000);
  spawnSync('mkfifo', [join(root, 'fifo')]);
  for (let i = 0; i < 300; i++) fs.writeFileSync(join(root, `small-${i}`), Buffer.alloc(i * 37, i)); // headers close together and far apart
  const many = fs.openSync(join(root, 'sparse-many'), 'w');
  for (let i = 0; i < 30; i++) fs.writeSync(many, Buffer.alloc(4096, 0x41 + i), 0, 4096, i * (64 << 10) + (32 << 10));
  fs.ftruncateSync(many, 30 * (64 << 10));
  fs.closeSync(many);
}

for (const [format, args] of [
  ['gnu', ['--format=gnu', '--sparse']],
  ['oldgnu', ['--format=oldgnu', '--sparse']],
  ['pax-sparse-0.1', ['--format=pax', '--sparse-version=0.1']],
  ['pax-sparse-1.0', ['--format=pax', '--sparse-version=1.0']],
  ['ustar', ['--format=ustar']],
] as const) {
  test(`native inflate captures the headers of a GNU tar ${format} archive: same entries, no reads of the file`, { skip }, async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'oci2fs-captured-'));
    try {
      fs.mkdirSync(join(dir, 'root'));
      makeTree(join(dir, 'root'));
      const tarPath = join(dir, 'src.tar');
      // ustar cannot hold the long names and big ids: GNU tar skips those entries (and says so)
      spawnSync('tar', [...args, '--numeric-owner', '-cf', tarPath, '-C', join(dir, 'root'), '.']);
      const { path, captured } = await spillCapturing(dir, fs.readFileSync(tarPath));
      const fromFile = await list(path);
      const fromCapture = await list(path, captured);
      assert.ok(fromFile.entries.length > 300 && fromFile.reads > 0);
      assert.deepEqual(fromCapture.entries, fromFile.entries);
      if (format === 'pax-sparse-1.0') {
        // the sparse 1.0 map lies in the file's data area, not captured: only it is read
        assert.ok(fromCapture.reads > 0 && fromCapture.reads <= 2, `${fromCapture.reads} reads`);
      } else {
        assert.equal(fromCapture.reads, 0);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** A ustar header block (checksum set) for hand-made archives. */
function header(name: string, type: string, size: number): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 'latin1');
  b.write('0000644\0', 100);
  b.write('0000000\0', 108);
  b.write('0000000\0', 116);
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  b.write('00000000000\0', 136);
  b.write(type, 156, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

const padded = (data: Buffer): Buffer[] => [data, Buffer.alloc((512 - (data.length % 512)) % 512)];

function pax(records: string): Buffer[] {
  const data = Buffer.from(records, 'latin1');
  return [header('PaxHeader', 'x', data.length), ...padded(data)];
}

/** Spills `tar` capturing, lists it from the file and from the capture: the same entries either way. */
async function listBoth(tar: Buffer): Promise<{ fromFile: { entries: TarEntry[]; reads: number }; fromCapture: { entries: TarEntry[]; reads: number } }> {
  const dir = fs.mkdtempSync(join(tmpdir(), 'oci2fs-captured-'));
  try {
    const { path, captured } = await spillCapturing(dir, tar);
    const fromFile = await list(path);
    const fromCapture = await list(path, captured);
    assert.deepEqual(fromCapture.entries, fromFile.entries);
    return { fromFile, fromCapture };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('native inflate capture follows a pax "size" record and links whose size field is not zero', { skip: !inflate && 'no native inflate' }, async () => {
  const { fromFile, fromCapture } = await listBoth(Buffer.concat([
    ...pax('13 size=5000\n'),
    header('big', '0', 0), // the pax record says how long the data is
    ...padded(Buffer.alloc(5000, 0x61)),
    header('dir/', '5', 1024), // directories and links carry no data, whatever the size field says
    header('link', '1', 777),
    header('after', '0', 3),
    ...padded(Buffer.from('abc')),
    Buffer.alloc(1024),
  ]));
  assert.deepEqual(fromFile.entries.map((e) => [e.path, e.size]), [['big', 5000], ['dir/', 0], ['link', 0], ['after', 3]]);
  assert.equal(fromCapture.reads, 0);
});

test('native inflate capture stops at a global pax "size" (it would apply to every entry): the rest is read from the file', { skip: !inflate && 'no native inflate' }, async () => {
  const g = Buffer.from('11 size=10\n', 'latin1');
  const { fromFile, fromCapture } = await listBoth(Buffer.concat([
    header('first', '0', 3),
    ...padded(Buffer.from('abc')),
    header('PaxGlobal', 'g', g.length),
    ...padded(g),
    header('second', '0', 0),
    ...padded(Buffer.from('0123456789')),
    Buffer.alloc(1024),
  ]));
  assert.deepEqual(fromFile.entries.map((e) => [e.path, e.size]), [['first', 3], ['second', 10]]);
  assert.ok(fromCapture.reads > 0 && fromCapture.reads <= fromFile.reads);
});

test('a capture that misses blocks, or holds none, gives the same entries (the file is read for the rest)', { skip }, async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'oci2fs-captured-'));
  try {
    fs.mkdirSync(join(dir, 'root'));
    makeTree(join(dir, 'root'));
    execFileSync('tar', ['--format=pax', '--numeric-owner', '-cf', join(dir, 'src.tar'), '-C', join(dir, 'root'), '.']);
    const tar = fs.readFileSync(join(dir, 'src.tar'));
    const { path } = await spillCapturing(dir, tar);
    const fromFile = await list(path);
    // every other header block only
    const offsets = fromFile.entries.filter((_, i) => i % 2 === 0).map((e) => e.dataOffset - 512);
    const some = CapturedBlocks.from({
      bytes: Buffer.concat(offsets.map((o) => tar.subarray(o, o + 512))),
      pieces: new Float64Array(offsets.flatMap((o) => [o, 512])),
    })!;
    const partly = await list(path, some);
    assert.deepEqual(partly.entries, fromFile.entries);
    assert.ok(partly.reads > 0 && partly.reads < fromFile.reads, `${partly.reads} reads against ${fromFile.reads}`);
    const none = await list(path, CapturedBlocks.from({ bytes: new Uint8Array(0), pieces: new Float64Array(0) }));
    assert.deepEqual(none.entries, fromFile.entries);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
