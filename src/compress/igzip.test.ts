import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ErrorCode, isOci2fsError } from '../errors.js';
import { xorshift32 } from '../../test/harness/image-builder.js';
import { igzipToFd, igzipTools } from './igzip.js';
import { evict, residentBytes } from '../../test/harness/page-cache.js';
import { decompressToFile, type DecompressToFileOptions } from './to-file.js';
import { nativeInflate, nativeSha256File } from './native-inflate.js';

/** Layer-like bytes (letters from a 32-symbol alphabet: compresses ~1.6x); `size` a multiple of 4. */
function layerBytes(size: number, seed: number): Buffer {
  const next = xorshift32(seed);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE(((next() & 0x1f1f1f1f) | 0x40404040) >>> 0, i);
  return b;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tools = igzipTools();

/** ISA-L's two forms, each tested against zlib: the addon's one-pass inflate and the igzip program. */
const ENGINES = [
  {
    name: 'native',
    opts: { nativeInflate: true },
    skip: nativeInflate() ? false : 'the native addon was built without libisal (Debian package libisal-dev) or is missing',
  },
  {
    name: 'igzip',
    opts: { nativeInflate: false },
    skip: tools ? false : 'igzip or prlimit is not installed (Debian package isal): only the zlib path runs here',
  },
] as const;

test('the native addon has the ISA-L inflate, and the hash that goes with it, in CI', () => {
  if (nativeInflate()) {
    assert.equal(typeof nativeSha256File(), 'function', 'an addon with inflateGzip has sha256File (both are built with libisal)');
    return;
  }
  assert.notEqual(process.env.CI, 'true', 'the addon (native/, built by npm ci) has inflateGzip in CI: libisal-dev is installed by scripts/install.sh');
});


/**
 * Decodes `gz` with ISA-L in the form `engineOpts` picks allowed (any size)
 * and with node only; returns both results and the bytes. ISA-L runs twice,
 * reading the file by path and with O_DIRECT; the two must agree in every way.
 */
async function both(dir: string, name: string, gz: Buffer, engineOpts: Partial<DecompressToFileOptions>, opts: Partial<DecompressToFileOptions> = {}) {
  const src = join(dir, `${name}.gz`);
  writeFileSync(src, gz);
  const run = async (igzip: boolean, directRead = false) => {
    const dest = join(dir, `${name}.${igzip ? 'igzip' : 'node'}${directRead ? '-direct' : ''}`);
    try {
      const r = await decompressToFile(src, dest, { label: `layer ${name}`, igzip, igzipMinBytes: 0, directRead, ...engineOpts, ...opts });
      return { r, bytes: readFileSync(dest) };
    } catch (e) {
      return { e };
    }
  };
  const fast = await run(true);
  const fed = await run(true, true);
  assert.deepEqual(fed.r, fast.r, `${name}: same result when fed with O_DIRECT reads`);
  assert.equal((fed.e as { code?: string } | undefined)?.code, (fast.e as { code?: string } | undefined)?.code, `${name}: same error when fed`);
  assert.ok(fed.bytes === undefined ? fast.bytes === undefined : fed.bytes.equals(fast.bytes ?? Buffer.alloc(0)), `${name}: same bytes when fed`);
  return { fast, node: await run(false) };
}

/** Why O_DIRECT cannot be tested in `dir`, or false. */
function noDirect(dir: string): string | false {
  try {
    closeSync(openSync(join(dir, 'probe'), constants.O_RDWR | constants.O_CREAT | (constants.O_DIRECT ?? 0)));
    return constants.O_DIRECT ? false : 'no O_DIRECT on this platform';
  } catch (e) {
    return `the temp file system refuses O_DIRECT (${(e as Error).message})`;
  }
}

/** Runs `fn` in a fresh temp directory, removed afterwards. */
async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-igzip-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function noTemps(dir: string): void {
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'no temp files left');
}

for (const { name: engine, opts: engineOpts, skip } of ENGINES) {
test(`${engine} spill: a single-member layer decodes through ISA-L to the bytes and diffID zlib gives`, { skip }, () =>
  inDir(async (dir) => {
    // 2 MB: ISIZE 0x001e8480 ends with a 0x00 byte, so NUL padding after it is ambiguous
    for (const [name, data, pad] of [['plain', layerBytes(2_000_000, 1), 0], ['padded', layerBytes(2_000_000, 2), 1024]] as const) {
      const gz = Buffer.concat([gzipSync(data), Buffer.alloc(pad)]);
      const { fast, node } = await both(dir, name, gz, engineOpts, { expectedDiffId: sha(data) });
      assert.equal(fast.r?.decoder, engine, `${name}: decoded by ${engine}`);
      assert.equal(node.r?.decoder, 'node');
      assert.equal(fast.r?.diffId, sha(data));
      assert.equal(fast.r?.size, data.length);
      assert.ok(fast.bytes?.equals(data), `${name}: same bytes`);
    }
    noTemps(dir);
  }));

test(`${engine} spill: multi-member streams and trailing garbage get zlib's verdict (same result with and without ISA-L)`, { skip }, () =>
  inDir(async (dir) => {
    const a = layerBytes(1_500_000, 3);
    const b = layerBytes(700_000, 4);
    const multi = await both(dir, 'multi', Buffer.concat([gzipSync(a), gzipSync(b)]), engineOpts);
    // the addon checks every member itself; the igzip program's verdict covers only the last one
    assert.equal(multi.fast.r?.decoder, engine === 'native' ? 'native' : 'node', 'multi-member: decoded by the addon, or again by zlib');
    assert.equal(multi.fast.r?.diffId, sha(Buffer.concat([a, b])));
    assert.ok(multi.fast.bytes?.equals(Buffer.concat([a, b])));
    // igzip alone would exit 0 here and ignore the tail
    const garbage = await both(dir, 'garbage', Buffer.concat([gzipSync(a), Buffer.from('not a gzip member')]), engineOpts);
    for (const r of [garbage.fast, garbage.node]) assert.ok(isOci2fsError(r.e, ErrorCode.COMPRESSION), `trailing garbage rejected: ${String(r.e)}`);
    noTemps(dir);
  }));

test(`${engine} spill: corrupt and truncated layers are E_COMPRESSION naming the layer, as with zlib`, { skip }, () =>
  inDir(async (dir) => {
    const gz = gzipSync(layerBytes(2_000_000, 5));
    const corrupt = Buffer.from(gz);
    for (let i = 100_000; i < 100_064; i++) corrupt[i] ^= 0x5a;
    for (const [name, bad] of [['corrupt', corrupt], ['truncated', gz.subarray(0, gz.length - 5000)]] as const) {
      const { fast, node } = await both(dir, name, bad, engineOpts);
      for (const r of [fast, node]) {
        assert.ok(isOci2fsError(r.e, ErrorCode.COMPRESSION), `${name}: ${String(r.e)}`);
        assert.match((r.e as Error).message, new RegExp(`layer ${name}`));
      }
    }
    noTemps(dir);
  }));

test(`${engine} spill: output past the ratio limit is stopped (the program by RLIMIT_FSIZE): E_LIMIT, nothing left behind`, { skip }, () =>
  inDir(async (dir) => {
    const zeros = gzipSync(Buffer.alloc(64 << 20)); // ~64 KB compressed, 1000:1
    const { fast, node } = await both(dir, 'bomb', zeros, engineOpts, { maxRatio: 50, ratioGraceBytes: 1 << 20 });
    for (const r of [fast, node]) assert.ok(isOci2fsError(r.e, ErrorCode.LIMIT), String(r.e));
    assert.deepEqual(readdirSync(dir), ['bomb.gz'], 'no output, no temp file');
  }));

test(`${engine} spill: a wrong diff_id is E_DIGEST_MISMATCH and leaves no file`, { skip }, () =>
  inDir(async (dir) => {
    const data = layerBytes(1_200_000, 6);
    const { fast } = await both(dir, 'wrong', gzipSync(data), engineOpts, { expectedDiffId: sha(Buffer.from('something else')) });
    assert.ok(isOci2fsError(fast.e, ErrorCode.DIGEST_MISMATCH), String(fast.e));
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('wrong.igzip')), []);
  }));

test(`${engine} spill: a blob read with O_DIRECT (the addon, or dd feeding igzip) stays out of the page cache; read by path it comes in`, { skip }, (t) =>
  inDir(async (dir) => {
    const why = noDirect(dir);
    if (why) return t.skip(why);
    if (engine === 'igzip' && !tools?.dd) return t.skip('dd is not installed: blobs are read by path');
    const data = randomBytes(8 << 20); // incompressible: the blob is as large as the data
    const src = join(dir, 'layer.gz');
    writeFileSync(src, gzipSync(data, { level: 1 }));
    const blob = statSync(src).size;
    const spill = async (directRead: boolean) => {
      evict(src);
      const r = await decompressToFile(src, join(dir, `out-${directRead}`), { label: 'layer', igzipMinBytes: 0, directRead, expectedDiffId: sha(data), ...engineOpts });
      assert.equal(r.decoder, engine);
      return residentBytes(src);
    };
    const direct = await spill(true);
    const byPath = await spill(false);
    // only the format check's reads of its head and tail go through the page cache
    assert.ok(direct < blob / 4, `read with O_DIRECT: ${direct} of ${blob} bytes in the page cache`);
    assert.ok(byPath >= blob * 0.9, `read by path: ${byPath} of ${blob} bytes in the page cache`);
  }));

}

test('igzip spill: a failed dd makes the outcome a retry, never a success, even when igzip got the whole blob', { skip: ENGINES[1].skip }, () =>
  inDir(async (dir) => {
    const src = join(dir, 'layer.gz');
    writeFileSync(src, gzipSync(layerBytes(1_000_000, 8)));
    // a "dd" that copies the whole file and then fails, and one that fails at once
    const lying = join(dir, 'lying-dd');
    writeFileSync(lying, '#!/bin/sh\ncat "${1#if=}"\nexit 1\n', { mode: 0o755 });
    for (const dd of [lying, '/bin/false']) {
      const out = openSync(join(dir, 'out'), 'w');
      try {
        const outcome = await igzipToFd({ ...tools!, dd }, src, out, Infinity, true);
        assert.equal(outcome.kind, 'retry', `${dd}: ${JSON.stringify(outcome)}`);
      } finally {
        closeSync(out);
      }
    }
  }));
