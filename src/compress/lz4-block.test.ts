import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { lz4CompressBlock, lz4DecompressBlock, lz4CompressBound } from './lz4-block.js';

/** LZ4 legacy frame magic (lz4 doc/lz4_Frame_format.md, "Legacy frame"): u32 LE, then u32 size + block. */
const LEGACY_MAGIC = 0x184c2102;

function samples(): [string, Uint8Array][] {
  const text = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(3000));
  const mixed = Buffer.alloc(200_000);
  for (let i = 0; i < mixed.length; i++) mixed[i] = (i * 7 + (i >> 9)) & 0xff;
  randomBytes(5000).copy(mixed, 50_000);
  const runs = Buffer.alloc(70_000, 0x41);
  const farRepeat = Buffer.concat([randomBytes(40_000), randomBytes(30_000)]);
  farRepeat.copy(farRepeat, 60_000, 0, 10_000); // match beyond 64 KiB must not be used
  return [
    ['empty', new Uint8Array(0)],
    ['1 byte', Uint8Array.of(7)],
    ['12 bytes', Buffer.from('abcdabcdabcd')],
    ['13 bytes', Buffer.from('abcdabcdabcda')],
    ['zeros 128K', new Uint8Array(131072)],
    ['text', text],
    ['random', randomBytes(65536)],
    ['mixed', mixed],
    ['runs', runs],
    ['far repeat', farRepeat],
  ];
}

test('lz4 block round-trips through our strict decoder (fast and high modes)', () => {
  for (const [name, data] of samples()) {
    for (const high of [false, true]) {
      const c = lz4CompressBlock(data, high);
      assert.ok(c.length <= lz4CompressBound(data.length), `${name}: bound`);
      const d = lz4DecompressBlock(c, data.length);
      assert.ok(Buffer.from(d).equals(Buffer.from(data)), `${name} high=${high}: round trip`);
    }
  }
  const text = samples()[5][1];
  assert.ok(lz4CompressBlock(text).length < text.length / 10, 'repetitive text compresses well');
  assert.ok(lz4CompressBlock(text, true).length <= lz4CompressBlock(text).length, 'high mode is not worse');
});

test('lz4 blocks decode with the reference lz4 CLI (legacy frame wrapper)', (t) => {
  if (spawnSync('lz4', ['--version']).status !== 0) {
    t.skip('lz4 CLI not installed');
    return;
  }
  for (const [name, data] of samples()) {
    if (data.length === 0) continue;
    for (const high of [false, true]) {
      const block = lz4CompressBlock(data, high);
      const frame = Buffer.alloc(8 + block.length);
      frame.writeUInt32LE(LEGACY_MAGIC, 0);
      frame.writeUInt32LE(block.length, 4);
      frame.set(block, 8);
      const out = execFileSync('lz4', ['-d', '-c'], { input: frame, maxBuffer: 1 << 24 });
      assert.equal(
        createHash('sha256').update(out).digest('hex'),
        createHash('sha256').update(data).digest('hex'),
        `${name} high=${high}: lz4 -d output differs`,
      );
    }
  }
});

test('lz4 decoder rejects corrupt input', () => {
  assert.throws(() => lz4DecompressBlock(Uint8Array.of(0x0f, 1, 0), 100), /offset/);
  assert.throws(() => lz4DecompressBlock(Uint8Array.of(0x50, 1, 2), 100), /literals/);
});
