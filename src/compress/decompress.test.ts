/**
 * Layer decompression against the gzip and zstd command-line tools: inputs
 * are made by the CLIs (multi-member gzip, multi-frame zstd with skippable
 * frames), outputs are compared with what `gzip -dc` / `zstd -dc` produce,
 * and corrupt, truncated and bomb inputs must fail with our error codes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, isOci2fsError } from '../errors.js';
import { decompress } from './decompress.js';
import { detectCompression } from './detect.js';
import { decompressToFile } from './to-file.js';
import { xorshift32 } from '../../test/harness/image-builder.js';

const HAVE_ZSTD = spawnSync('zstd', ['--version']).status === 0;
const HAVE_GZIP = spawnSync('gzip', ['--version']).status === 0;

let dir = '';
let frame1 = Buffer.alloc(0);
const p = (name: string): string => join(dir, name);

/** A zstd skippable frame (RFC 8878 §3.1.2): magic 0x184D2A5?, u32 size, payload. */
function skippable(nibble: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0x184d2a50 + nibble, 0);
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oci2fs-decompress-'));
  // Two different, partly incompressible parts.
  fs.writeFileSync(p('part1'), Buffer.concat([Buffer.from('first part\n'.repeat(5000)), createHash('sha512').update('1').digest()]));
  const rnd = Buffer.alloc(300_000);
  for (let i = 0; i < rnd.length; i += 64) createHash('sha512').update(String(i)).digest().copy(rnd, i);
  fs.writeFileSync(p('part2'), rnd);
  fs.writeFileSync(p('whole'), Buffer.concat([fs.readFileSync(p('part1')), fs.readFileSync(p('part2'))]));
  if (HAVE_GZIP) {
    execSync(`gzip -c part1 > multi.gz && gzip -9 -c part2 >> multi.gz`, { cwd: dir });
  }
  if (HAVE_ZSTD) {
    const f1 = execFileSync('zstd', ['-q', '-c', p('part1')]);
    frame1 = f1;
    const f2 = execFileSync('zstd', ['-q', '-c', '--no-check', p('part2')]);
    fs.writeFileSync(p('multi.zst'), Buffer.concat([skippable(0, Buffer.from('lead')), f1, skippable(15, Buffer.alloc(100, 7)), f2, skippable(3, Buffer.alloc(0))]));
  }
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function collect(src: AsyncIterable<Uint8Array>, opts: { maxRatio?: number; maxOutput?: number; ratioGraceBytes?: number } = {}): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of decompress(src, { label: 'layer-x', ...opts })) parts.push(c);
  return Buffer.concat(parts);
}

async function* from(buf: Buffer, size = 4096): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

function failsWith(code: string, re: RegExp = /layer-x/): (e: unknown) => boolean {
  return (e) => {
    assert.ok(isOci2fsError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  };
}

test('detectCompression by magic bytes', () => {
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(detectCompression(Buffer.from([0x50, 0x2a, 0x4d, 0x18])), 'zstd');
  assert.equal(detectCompression(Buffer.from([0x5f, 0x2a, 0x4d, 0x18])), 'zstd');
  assert.equal(detectCompression(Buffer.from([0x60, 0x2a, 0x4d, 0x18])), 'none');
  assert.equal(detectCompression(Buffer.from('ustar')), 'none');
  assert.equal(detectCompression(Buffer.from([0x1f])), 'none');
  assert.equal(detectCompression(Buffer.alloc(0)), 'none');
});

test('multi-member gzip decodes like gzip -dc', { skip: !HAVE_GZIP && 'gzip missing' }, async () => {
  const want = execFileSync('gzip', ['-dc', p('multi.gz')], { maxBuffer: 1 << 26 });
  assert.deepEqual(want, fs.readFileSync(p('whole')));
  assert.deepEqual(await collect(createReadStream(p('multi.gz'), { highWaterMark: 1000 })), want);
});

test('multi-frame zstd with skippable frames decodes like zstd -dc', { skip: !HAVE_ZSTD && 'zstd missing' }, async () => {
  const want = execFileSync('zstd', ['-q', '-dc', p('multi.zst')], { maxBuffer: 1 << 26 });
  assert.deepEqual(want, fs.readFileSync(p('whole')));
  assert.deepEqual(await collect(createReadStream(p('multi.zst'), { highWaterMark: 777 })), want);
});

test('uncompressed input passes through; empty input is empty', async () => {
  assert.deepEqual(await collect(from(fs.readFileSync(p('whole')), 1001)), fs.readFileSync(p('whole')));
  assert.deepEqual(await collect(from(Buffer.from([0x1f]))), Buffer.from([0x1f]), 'a lone gzip-like byte is data');
  assert.equal((await collect(from(Buffer.alloc(0)))).length, 0);
});

test('corrupt and truncated streams are E_COMPRESSION naming the layer', { skip: !(HAVE_GZIP && HAVE_ZSTD) && 'gzip/zstd missing' }, async () => {
  const gz = fs.readFileSync(p('multi.gz'));
  const flipped = Buffer.from(gz);
  flipped[gz.length >> 1] ^= 0xff;
  await assert.rejects(collect(from(flipped)), failsWith(ErrorCode.COMPRESSION));
  await assert.rejects(collect(from(gz.subarray(0, gz.length - 10))), failsWith(ErrorCode.COMPRESSION, /layer-x: gzip/));
  await assert.rejects(collect(from(Buffer.concat([gz, Buffer.from('garbage')]))), failsWith(ErrorCode.COMPRESSION));
  const zst = fs.readFileSync(p('multi.zst'));
  await assert.rejects(collect(from(zst.subarray(0, 5000))), failsWith(ErrorCode.COMPRESSION, /truncated/));
  // Inside the first frame (after the 12-byte skippable frame); it has a checksum.
  const zflip = Buffer.from(zst);
  zflip[12 + (frame1.length >> 1)] ^= 0x55;
  await assert.rejects(collect(from(zflip)), failsWith(ErrorCode.COMPRESSION, /layer-x: zstd/));
  await assert.rejects(collect(from(Buffer.concat([zst, Buffer.from('garbage!')]))), failsWith(ErrorCode.COMPRESSION));
});

test('decompression bombs hit the ratio limit; maxOutput caps any stream', { skip: !(HAVE_GZIP && HAVE_ZSTD) && 'gzip/zstd missing' }, async () => {
  // 80 MiB of zeros: zstd packs it ~30000:1, past 1000:1 after the default 64 MiB grace.
  const zbomb = execSync('head -c 83886080 /dev/zero | zstd -q -c', { maxBuffer: 1 << 24 });
  await assert.rejects(collect(from(zbomb)), failsWith(ErrorCode.LIMIT, /ratio exceeds 1000:1/));
  // gzip -1 packs 8 MiB of zeros ~200:1 (gzip bombs top out near 1030:1; a smaller grace keeps this quick).
  const gbomb = execSync('head -c 8388608 /dev/zero | gzip -1 -c', { maxBuffer: 1 << 24 });
  await assert.rejects(collect(from(gbomb, 65536), { maxRatio: 100, ratioGraceBytes: 1 << 20 }), failsWith(ErrorCode.LIMIT, /layer-x: decompression ratio exceeds 100:1/));
  assert.equal((await collect(from(gbomb, 65536), { maxRatio: 1000, ratioGraceBytes: 1 << 20 })).length, 8388608);
  // A generous ratio lets the same stream through (its output is an exact
  // multiple of the 128 KiB output buffer: the frame end is seen on a full buffer).
  assert.equal((await collect(from(zbomb), { maxRatio: 1e9 })).length, 83886080);
  await assert.rejects(collect(from(fs.readFileSync(p('multi.zst'))), { maxOutput: 1000 }), failsWith(ErrorCode.LIMIT, /1000 bytes/));
  await assert.rejects(collect(from(fs.readFileSync(p('whole'))), { maxOutput: 1000 }), failsWith(ErrorCode.LIMIT));
});

test('zstd frames that need a window over 128 MiB (zstd --long=28) are E_LIMIT', { skip: !HAVE_ZSTD && 'zstd missing' }, async () => {
  const long = execSync('head -c 1048576 /dev/zero | zstd -q --long=28 -c', { maxBuffer: 1 << 24 });
  await assert.rejects(collect(from(long)), failsWith(ErrorCode.LIMIT, /window larger than 128 MiB/));
});

test('decompression is pulled: stopping early reads only part of the input', { skip: !HAVE_ZSTD && 'zstd missing' }, async () => {
  const big = execSync('head -c 33554432 /dev/zero | zstd -q -c --no-content-size', { maxBuffer: 1 << 24 });
  let fed = 0;
  async function* counting(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < big.length; i += 64) {
      fed += Math.min(64, big.length - i);
      yield big.subarray(i, i + 64);
    }
  }
  let out = 0;
  for await (const c of decompress(counting(), { label: 'pull' })) {
    out += c.length;
    if (out >= 1 << 20) break;
  }
  assert.ok(fed < big.length, `stopped early (fed ${fed} of ${big.length})`);
});

test('decompressToFile: diffID like sha256sum of gzip -dc, atomic, mismatch deletes the temp', { skip: !HAVE_GZIP && 'gzip missing' }, async () => {
  const want = `sha256:${execSync(`gzip -dc multi.gz | sha256sum`, { cwd: dir }).toString().split(' ')[0]}`;
  const r = await decompressToFile(p('multi.gz'), p('out.tar'), { label: 'layer-x', expectedDiffId: want });
  assert.deepEqual(r, { diffId: want, size: fs.statSync(p('whole')).size, compression: 'gzip', decoder: 'node' }); // under IGZIP_MIN_BYTES: zlib
  assert.deepEqual(fs.readFileSync(p('out.tar')), fs.readFileSync(p('whole')));
  const wrong = `sha256:${'0'.repeat(64)}`;
  await assert.rejects(decompressToFile(p('multi.gz'), p('out2.tar'), { label: 'layer-x', expectedDiffId: wrong }), failsWith(ErrorCode.DIGEST_MISMATCH, /sha256:0{64}/));
  assert.ok(!fs.existsSync(p('out2.tar')));
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'no temp files left');
  const plain = await decompressToFile(p('whole'), p('out3.tar'), { label: 'layer-x' });
  assert.equal(plain.compression, 'none');
  assert.equal(plain.diffId, want);
  const flipped = fs.readFileSync(p('multi.gz'));
  flipped[100] ^= 0xff;
  fs.writeFileSync(p('bad.gz'), flipped);
  await assert.rejects(decompressToFile(p('bad.gz'), p('out4.tar'), { label: 'layer-x' }), failsWith(ErrorCode.COMPRESSION));
  assert.ok(!fs.existsSync(p('out4.tar')));
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
  await assert.rejects(decompressToFile(p('missing.gz'), p('out5.tar'), { label: 'layer-x' }), failsWith(ErrorCode.IO));
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
});

test('random corruption of gzip/zstd streams fails only with E_COMPRESSION (or passes)', { skip: !(HAVE_GZIP && HAVE_ZSTD) && 'gzip/zstd missing' }, async () => {
  const rnd = xorshift32(0x2545f491);
  let failures = 0;
  for (const name of ['multi.gz', 'multi.zst']) {
    const original = fs.readFileSync(p(name)).subarray(0, 20_000); // truncated too: fine, must still fail cleanly
    for (let i = 0; i < 60; i++) {
      const buf = Buffer.from(original);
      for (let k = 1 + (rnd() % 4); k > 0; k--) buf[rnd() % Math.min(buf.length, 400)] = rnd() & 0xff;
      try {
        await collect(from(buf, 1 + (rnd() % 5000)));
      } catch (e) {
        assert.ok(isOci2fsError(e, 'E_COMPRESSION') || isOci2fsError(e, 'E_LIMIT'), `${name}#${i}: ${String(e)}`);
        failures++;
      }
    }
  }
  assert.ok(failures > 60, 'corruption is noticed');
});

test('decompressToFile: zstd (frames and skippable frames), truncated zstd, and a bomb over maxRatio', { skip: !HAVE_ZSTD && 'zstd missing' }, async () => {
  const r = await decompressToFile(p('multi.zst'), p('z.tar'), { label: 'layer-x' });
  assert.equal(r.compression, 'zstd');
  assert.deepEqual(fs.readFileSync(p('z.tar')), fs.readFileSync(p('whole')));
  const zst = fs.readFileSync(p('multi.zst'));
  fs.writeFileSync(p('cut.zst'), zst.subarray(0, zst.length - 40));
  await assert.rejects(decompressToFile(p('cut.zst'), p('z2.tar'), { label: 'layer-x' }), failsWith(ErrorCode.COMPRESSION));
  // 64 MiB of zeros compresses ~8000:1: over the ratio limit once past the grace bytes.
  fs.writeFileSync(p('bomb.zst'), execFileSync('sh', ['-c', 'head -c 67108864 /dev/zero | zstd -q -19 -c']));
  await assert.rejects(
    decompressToFile(p('bomb.zst'), p('z3.tar'), { label: 'layer-x', ratioGraceBytes: 1 << 20 }),
    failsWith(ErrorCode.LIMIT, /ratio/),
  );
  for (const n of ['z2.tar', 'z3.tar']) assert.ok(!fs.existsSync(p(n)));
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
});
