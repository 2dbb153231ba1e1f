/**
 * Robustness: header bytes of real GNU tar archives are mutated (with the
 * checksum fixed up, so the mutation reaches the field decoders) and
 * truncated at every block; the reader must either succeed or fail with
 * E_TAR_INVALID / E_LIMIT — never another exception, a hang, or data
 * beyond the archive. Deterministic (seeded PRNG).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOci2fsError } from '../errors.js';
import { readTarWithData } from './reader.js';
import { xorshift32 } from '../../test/harness/image-builder.js';

const HAVE_TAR = spawnSync('tar', ['--version']).status === 0;
let dir = '';
const archives: Buffer[] = [];

before(async () => {
  if (!HAVE_TAR) return;
  dir = await mkdtemp(join(tmpdir(), 'oci2fs-fuzz-'));
  const root = join(dir, 'root');
  fs.mkdirSync(join(root, 'd'), { recursive: true });
  fs.writeFileSync(join(root, 'd', 'x'.repeat(130)), 'long name\n');
  fs.writeFileSync(join(root, 'small'), 'abc');
  fs.symlinkSync('y'.repeat(120), join(root, 'lnk'));
  const sp = fs.openSync(join(root, 'sparse'), 'w');
  for (let i = 0; i < 6; i++) fs.writeSync(sp, Buffer.alloc(512, 0x30 + i), 0, 512, i * 65536);
  fs.ftruncateSync(sp, 6 * 65536);
  fs.closeSync(sp);
  for (const args of [['--format=gnu', '--sparse'], ['--format=pax', '--sparse-version=1.0'], ['--format=pax', '--sparse-version=0.1']]) {
    archives.push(execFileSync('tar', [...args, '-cf', '-', '-C', root, '.'], { maxBuffer: 1 << 24 }));
  }
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** xorshift32: a small deterministic PRNG. */

/** Offsets of header blocks (blocks whose checksum verifies). */
function headerBlocks(buf: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off + 512 <= buf.length; off += 512) {
    const b = buf.subarray(off, off + 512);
    if (b.every((c) => c === 0)) continue;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i];
    if (parseInt(b.subarray(148, 156).toString('latin1').replace(/[\0 ]/g, ''), 8) === sum) out.push(off);
  }
  return out;
}

function fixChecksum(buf: Buffer, off: number): void {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : buf[off + i];
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 'latin1');
}

async function run(buf: Buffer): Promise<void> {
  async function* src(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < buf.length; i += 1000) yield buf.subarray(i, i + 1000);
  }
  let total = 0;
  try {
    for await (const { entry, data } of readTarWithData(src(), { label: 'fuzz', limits: { maxSparseSegments: 1000, maxPaxHeaderSize: 1 << 16 } })) {
      assert.ok(entry.dataOffset <= buf.length, 'data starts inside the archive');
      assert.ok(entry.size >= 0 && Number.isSafeInteger(entry.size));
      assert.ok(entry.dataLength >= 0 && Number.isSafeInteger(entry.dataLength));
      let got = 0;
      for await (const c of data) got += c.length;
      assert.equal(got, entry.dataLength, 'a completed data stream has exactly dataLength bytes');
      total += got;
    }
  } catch (e) {
    if (isOci2fsError(e, 'E_TAR_INVALID') || isOci2fsError(e, 'E_LIMIT')) return;
    throw e;
  }
  assert.ok(total <= buf.length);
}

test('mutated headers (checksums fixed up) fail only with E_TAR_INVALID / E_LIMIT', { skip: !HAVE_TAR && 'GNU tar missing' }, async () => {
  const rnd = xorshift32(0x0c12f5);
  const interesting = [0x00, 0x20, 0x30, 0x37, 0x38, 0x0a, 0x3d, 0x80, 0xff, 0x7f, 0x2f];
  for (const original of archives) {
    const heads = headerBlocks(original);
    assert.ok(heads.length > 3);
    for (let iter = 0; iter < 150; iter++) {
      const buf = Buffer.from(original);
      const off = heads[rnd() % heads.length];
      for (let k = 1 + (rnd() % 3); k > 0; k--) {
        buf[off + (rnd() % 512)] = rnd() % 2 ? interesting[rnd() % interesting.length] : rnd() & 0xff;
      }
      fixChecksum(buf, off);
      // Also mutate data right after a header now and then (pax records, sparse maps).
      if (rnd() % 3 === 0 && off + 600 < buf.length) buf[off + 512 + (rnd() % 88)] = interesting[rnd() % interesting.length];
      await run(buf);
    }
  }
});

test('truncation at every block boundary and mid-block fails cleanly', { skip: !HAVE_TAR && 'GNU tar missing' }, async () => {
  for (const original of archives) {
    for (let cut = 0; cut < original.length; cut += 256) await run(original.subarray(0, cut));
  }
});
