/**
 * Pure codec checks against independent references: the CRC-32C check
 * value from RFC 3720 / the Castagnoli catalogue, and debugfs's own
 * dx_hash for the htree name hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, crc32cRaw } from './crc32c.js';
import { halfMd4Hash } from './dirhash.js';
import { encodeTime } from './inode.js';
import { extentTreeBlockCount, normalizeExtents } from './extent.js';
import { groupHasSuper } from './geometry.js';

test('crc32c matches the standard check values', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
  // chaining the raw register equals one pass
  const data = Buffer.from('the quick brown fox jumps over the lazy dog');
  assert.equal(crc32cRaw(crc32cRaw(0xffffffff, data.subarray(0, 13)), data.subarray(13)), crc32cRaw(0xffffffff, data));
});

/** Bit-at-a-time reference CRC-32C register update (no tables, no word loads). */
function crcBitwise(crc: number, data: Uint8Array): number {
  let c = crc >>> 0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return c >>> 0;
}

test('crc32c word path (aligned, long inputs) equals the bitwise definition at every alignment', () => {
  const data = new Uint8Array(4096 + 16);
  let x = 12345;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  for (const [start, end] of [[0, 4096], [0, 256], [4, 4101], [1, 4096], [3, 70], [8, 8 + 64], [0, 63], [16, 4112]]) {
    assert.equal(crc32cRaw(0x1234abcd, data, start, end), crcBitwise(0x1234abcd, data.subarray(start, end)), `[${start}, ${end})`);
    const view = data.subarray(start, end);
    assert.equal(crc32cRaw(0xffffffff, view), crcBitwise(0xffffffff, view), `view [${start}, ${end})`);
  }
});

test('half_md4 hash agrees with debugfs dx_hash', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-ext4-hash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const img = join(dir, 'x.img');
  execFileSync('mkfs.ext4', ['-q', '-F', img, '1M'], { stdio: 'ignore' });
  const uuid = '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9';
  const seedBytes = Buffer.from(uuid.replace(/-/g, ''), 'hex');
  const seed = [0, 4, 8, 12].map((o) => seedBytes.readUInt32LE(o));
  const names = ['a', 'hello', 'lost+found', 'file-number-4999', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(33), 'n'.repeat(200)];
  for (const name of names) {
    const outText = execFileSync('debugfs', ['-R', `dx_hash -h half_md4 -s ${uuid} ${name}`, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const m = /is 0x([0-9a-f]+) \(minor 0x([0-9a-f]+)\)/.exec(outText);
    assert.ok(m, outText);
    const ours = halfMd4Hash(Buffer.from(name, 'latin1'), seed);
    assert.equal(ours.hash, parseInt(m[1], 16), name);
    assert.equal(ours.minor, parseInt(m[2], 16), name);
  }
});

test('timestamps use 2 epoch bits beyond signed 32-bit seconds', () => {
  assert.deepEqual(encodeTime({ sec: 0, nsec: 0 }), { lo: 0, extra: 0 });
  // 1960-01-01: negative seconds keep epoch 0 (two's complement low word)
  assert.deepEqual(encodeTime({ sec: -315619200, nsec: 1 }), { lo: 0x100000000 - 315619200, extra: 4 });
  // 2040-01-01 = 2208988800 > 2^31-1: epoch 1, low word wraps negative
  assert.deepEqual(encodeTime({ sec: 2208988800, nsec: 999999999 }), { lo: 2208988800, extra: (999999999 << 2 | 1) >>> 0 });
  // 2300: 10413792000 = 2*2^32 + 1823857408 → epoch 2
  assert.deepEqual(encodeTime({ sec: 10413792000, nsec: 0 }), { lo: 10413792000 - 2 * 2 ** 32, extra: 2 });
});

test('extent helpers split at 32768 blocks and count tree blocks', () => {
  assert.deepEqual(normalizeExtents([{ logical: 0, physical: 100, len: 70000 }]).map((e) => e.len), [32768, 32768, 4464]);
  assert.equal(extentTreeBlockCount(4), 0);
  assert.equal(extentTreeBlockCount(5), 1);
  assert.equal(extentTreeBlockCount(340 * 4), 4);
  assert.equal(extentTreeBlockCount(340 * 4 + 1), 6); // 5 leaves + 1 index block
});

test('sparse_super backup groups', () => {
  const groups = [...Array(100).keys()].filter(groupHasSuper);
  assert.deepEqual(groups, [0, 1, 3, 5, 7, 9, 25, 27, 49, 81]);
});
