import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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

/** CPU time (ms) of this process's threads other than the main one, from proc(5); exact for threads that are asleep. */
function otherThreadsCpuMs(): number {
  let ns = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    if (Number(tid) === process.pid) continue;
    try {
      ns += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return ns / 1e6;
}

test('pool: compressMs counts the workers\' CPU time (bug: per-block readings of the thread clock missed ~40% of it)', async (t) => {
  if (process.platform !== 'linux') {
    t.skip('thread CPU clocks are read from /proc (Linux only); elsewhere compressMs is wall time per block');
    return;
  }
  // Blocks one at a time, so the worker sleeps between blocks: the case where a reading taken as
  // the thread wakes and one taken ~1 ms later, before the next scheduler tick, agree (worker.ts).
  const spec = resolveCompressor('gzip', 6);
  const block = new Uint8Array(128 << 10); // ~1 ms of gzip: shorter than a tick
  let x = 1;
  for (let i = 0; i < block.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    block[i] = 97 + ((x >>> 16) % 7); // compressible, but not trivially
  }
  const pool = new CompressPool(spec, 2);
  try {
    pool.recycle(await pool.compress(block.slice())); // worker start-up outside the measured span
    await new Promise((r) => setTimeout(r, 50)); // the worker is asleep: its proc(5) time is exact
    const before = pool.compressMs;
    const threads0 = otherThreadsCpuMs();
    for (let i = 0; i < 200; i++) pool.recycle(await pool.compress(block.slice()));
    await new Promise((r) => setTimeout(r, 50));
    const threadsMs = otherThreadsCpuMs() - threads0;
    const counted = pool.compressMs - before;
    // the other threads are the busy worker, an idle one, and V8's and libuv's helpers (little here)
    assert.ok(counted > 0.75 * threadsMs && counted <= 1.02 * threadsMs + 5, `compressMs ${counted.toFixed(0)} ms against ${threadsMs.toFixed(0)} ms of the other threads' CPU`);
  } finally {
    await pool.close();
  }
});
