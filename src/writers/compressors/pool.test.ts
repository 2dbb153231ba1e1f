import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { inflateSync } from 'node:zlib';
import { CompressPool } from './pool.js';
import { resolveCompressor, compressorOptions } from './index.js';
import { lz4DecompressBlock } from '../../compress/lz4-block.js';

function blocks(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 24; i++) {
    const b = new Uint8Array(32 * 1024);
    if (i % 3 === 0) b.set(randomBytes(b.length)); // incompressible: must come back as is
    else for (let j = 0; j < b.length; j++) b[j] = (j * (i + 1)) % 251;
    out.push(b);
  }
  return out;
}

for (const name of ['gzip', 'zstd', 'lz4'] as const) {
  test(`pool (${name}): jobs 1 and jobs 3 give the same bytes, in order; incompressible blocks come back unchanged`, async () => {
    const spec = resolveCompressor(name);
    const input = blocks();
    const copies = input.map((b) => b.slice());
    const run = async (jobs: number): Promise<{ data: Buffer; compressed: boolean }[]> => {
      const pool = new CompressPool(spec, jobs);
      try {
        const rs = await Promise.all(input.map((b) => pool.compress(b.slice())));
        return rs.map((r) => ({ data: Buffer.from(r.data), compressed: r.compressed }));
      } finally {
        await pool.close();
      }
    };
    const one = await run(1);
    const three = await run(3);
    assert.deepEqual(three, one);
    one.forEach((r, i) => {
      const orig = Buffer.from(copies[i]);
      if (!r.compressed) {
        assert.ok(r.data.equals(orig), `block ${i} returned uncompressed must be the input`);
        assert.equal(i % 3, 0, `block ${i} is compressible`);
        return;
      }
      assert.ok(r.data.length < orig.length);
      let back: Buffer;
      if (name === 'gzip') back = inflateSync(r.data); // zlib stream (RFC 1950), as squashfs gzip expects
      else if (name === 'lz4') back = Buffer.from(lz4DecompressBlock(r.data, orig.length));
      else back = execFileSync('zstd', ['-d', '-c'], { input: r.data }); // independent decoder: the zstd CLI
      assert.ok(back.equals(orig), `block ${i} round trip`);
    });
  });
}

test('compressor options are written as mksquashfs does', () => {
  assert.equal(compressorOptions(resolveCompressor('gzip')), null);
  assert.deepEqual([...compressorOptions(resolveCompressor('gzip', 6))!], [6, 0, 0, 0, 15, 0, 0, 0]);
  assert.equal(compressorOptions(resolveCompressor('zstd')), null);
  assert.deepEqual([...compressorOptions(resolveCompressor('zstd', 19))!], [19, 0, 0, 0]);
  assert.deepEqual([...compressorOptions(resolveCompressor('lz4'))!], [1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...compressorOptions(resolveCompressor('lz4', undefined, true))!], [1, 0, 0, 0, 1, 0, 0, 0]);
  assert.equal(compressorOptions(resolveCompressor('none')), null);
});

test('pool: recycled buffers are reused and results stay right (jobs 1 and 2)', async () => {
  const spec = resolveCompressor('zstd', 3);
  const input = blocks();
  for (const jobs of [1, 2]) {
    const pool = new CompressPool(spec, jobs);
    const given = new Set<ArrayBuffer>();
    let reused = 0;
    try {
      for (const [i, orig] of input.entries()) {
        const b = pool.take(orig.length);
        if (given.has(b.buffer as ArrayBuffer)) reused++;
        b.set(orig);
        const r = await pool.compress(b);
        const back = r.compressed ? execFileSync('zstd', ['-d', '-c'], { input: r.data }) : Buffer.from(r.data);
        assert.ok(back.equals(Buffer.from(orig)), `jobs ${jobs} block ${i} round trip`);
        for (const x of r.buffers) given.add(x);
        pool.recycle(r);
      }
    } finally {
      await pool.close();
    }
    assert.ok(reused >= input.length - 2, `jobs ${jobs}: only ${reused} of ${input.length} buffers were reused`);
  }
});
