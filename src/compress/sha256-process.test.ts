import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { opensslTool, sha256ByProcess } from './sha256-process.js';
import { spillsInProcesses } from './to-file.js';
import { igzipTools } from './igzip.js';

const openssl = opensslTool();
const skip = openssl ? false : 'openssl is not installed (Debian package openssl): layer spills are hashed on our threads';

/** Runs `fn` in a fresh temp directory, removed afterwards. */
async function inDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-sha256-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('sha256ByProcess: openssl gives the digest node computes, for empty, small and multi-MiB files and odd names', { skip }, () =>
  inDir(async (dir) => {
    for (const [name, bytes] of [['empty', Buffer.alloc(0)], ['small', Buffer.from('abc')], ['with space and *star', randomBytes(3 << 20)]] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      assert.equal(await sha256ByProcess(openssl!, path), createHash('sha256').update(bytes).digest('hex'), name);
    }
  }));

test('sha256ByProcess: a failing or garbled openssl is an error, never a digest', { skip }, () =>
  inDir(async (dir) => {
    const path = join(dir, 'data');
    writeFileSync(path, 'data');
    const fake = (name: string, script: string) => {
      const p = join(dir, name);
      writeFileSync(p, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
      return p;
    };
    const cases = [
      fake('fails', 'echo "no such digest" >&2; exit 1'),
      fake('short', 'echo "abc *$4"'),
      fake('two-lines', `echo "${'a'.repeat(64)} *$4"; echo "${'b'.repeat(64)} *other"`),
      fake('upper', `echo "${'A'.repeat(64)} *$4"`),
      join(dir, 'missing-program'),
    ];
    for (const program of cases) await assert.rejects(sha256ByProcess(program, path), Error, program);
  }));

test('spillsInProcesses: gzip blobs of 1 MiB or more when igzip and openssl are installed; not small or other blobs', { skip: skip || (igzipTools() ? false : 'igzip is not installed') }, () =>
  inDir(async (dir) => {
    const big = gzipSync(randomBytes(2 << 20), { level: 1 });
    const write = (name: string, b: Buffer) => {
      writeFileSync(join(dir, name), b);
      return join(dir, name);
    };
    assert.equal(await spillsInProcesses(write('big.gz', big)), true);
    assert.equal(await spillsInProcesses(write('small.gz', gzipSync(Buffer.from('x')))), false);
    assert.equal(await spillsInProcesses(write('plain.tar', Buffer.alloc(2 << 20, 0x61))), false);
    assert.equal(await spillsInProcesses(join(dir, 'missing.gz')), false);
  }));
