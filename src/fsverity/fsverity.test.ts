import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsverityHasher, fsverityDigestFile, fsverityDigestStream, formatFsverityLine, type FsverityOptions } from './index.js';

/** Deterministic pseudo-random bytes (sha256 counter mode). */
function bytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  for (let off = 0, i = 0; off < n; i++) {
    const h = createHash('sha256').update(`${seed}:${i}`).digest();
    off += h.copy(out, off);
  }
  return out;
}

/** What the independent `fsverity` tool says. */
function reference(path: string, alg: string, bs: number): string {
  const out = execFileSync('fsverity', ['digest', `--hash-alg=${alg}`, `--block-size=${bs}`, path], { encoding: 'utf8' }).trim();
  return out;
}

const SIZES = [0, 1, 4095, 4096, 4097, 128 * 4096, 128 * 4096 + 1, (1 << 20) + 1, 17 * (1 << 20)];

test('fs-verity digests equal `fsverity digest` (sha256/4096) for edge sizes up to multi-level trees', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-fsv-'));
  try {
    for (const size of SIZES) {
      const p = join(dir, `f${size}`);
      await writeFile(p, bytes(size, `s${size}`));
      const ours = await fsverityDigestFile(p);
      assert.equal(formatFsverityLine(ours, p), reference(p, 'sha256', 4096), `size ${size}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fs-verity sha512 and other block sizes match the tool', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-fsv-'));
  try {
    const cases: [number, FsverityOptions][] = [
      [0, { algorithm: 'sha512' }],
      [5000, { algorithm: 'sha512' }],
      [64 * 4096 + 7, { algorithm: 'sha512' }],
      [(1 << 20) + 1, { algorithm: 'sha512', blockSize: 1024 }],
      [300_000, { algorithm: 'sha256', blockSize: 65536 }],
    ];
    for (const [size, opts] of cases) {
      const p = join(dir, `g${size}`);
      await writeFile(p, bytes(size, `g${size}`));
      const ours = await fsverityDigestFile(p, opts);
      const alg = opts.algorithm ?? 'sha256';
      assert.equal(formatFsverityLine(ours, p, alg), reference(p, alg, opts.blockSize ?? 4096), `size ${size} ${JSON.stringify(opts)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('chunking does not change the digest (odd chunk sizes, streaming)', async () => {
  const data = bytes(3 * 4096 + 1234, 'chunks');
  const whole = createFsverityHasher();
  whole.update(data);
  const expected = whole.digest().toString('hex');
  for (const step of [1, 7, 4095, 4097, 10000]) {
    async function* gen(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < data.length; i += step) yield data.subarray(i, i + step);
    }
    assert.equal(await fsverityDigestStream(gen()), expected, `step ${step}`);
  }
});

test('bad options are rejected with E_USAGE', () => {
  assert.throws(() => createFsverityHasher({ blockSize: 3000 }), /power of two/);
  const h = createFsverityHasher();
  h.digest();
  assert.throws(() => h.digest(), /twice/);
});

test('parallel (worker) digests equal `fsverity digest` for edge sizes, with many small segments', async () => {
  const { fsverityDigestFileParallel } = await import('./index.js');
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-fsv-'));
  try {
    for (const size of [0, 1, 4095, 4096, 4097, 128 * 4096 + 1, (1 << 20) + 1, 17 * (1 << 20)]) {
      const p = join(dir, `p${size}`);
      await writeFile(p, bytes(size, `p${size}`));
      // Segments of 3 blocks: leaf hashes from many tasks must be stitched in file order.
      const ours = await fsverityDigestFileParallel(p, {}, { threads: 2, segmentBytes: 3 * 4096 });
      assert.equal(formatFsverityLine(ours, p), reference(p, 'sha256', 4096), `size ${size}`);
    }
    const p = join(dir, 'p512');
    await writeFile(p, bytes(200_001, 'p512'));
    const ours = await fsverityDigestFileParallel(p, { algorithm: 'sha512', blockSize: 1024 }, { threads: 3, segmentBytes: 5000 });
    assert.equal(formatFsverityLine(ours, p, 'sha512'), reference(p, 'sha512', 1024), 'sha512/1024');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a sparse file over 2 GiB (offsets past 32 bits) hashes like `fsverity digest` (worker path)', async () => {
  const { open } = await import('node:fs/promises');
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-fsv-'));
  try {
    const p = join(dir, 'sparse');
    const fh = await open(p, 'w');
    const size = 2 ** 31 + 12_345;
    await fh.write(bytes(5000, 'a'), 0, 5000, 0);
    await fh.write(bytes(7000, 'b'), 0, 7000, 2 ** 31 - 3000); // straddles the 2 GiB boundary
    await fh.truncate(size);
    await fh.close();
    const ours = await fsverityDigestFile(p); // >= PARALLEL_MIN_BYTES: workers
    assert.equal(formatFsverityLine(ours, p), reference(p, 'sha256', 4096));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
