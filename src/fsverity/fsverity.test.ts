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
