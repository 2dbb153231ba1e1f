/**
 * The python3 timestamp batch: exact nanoseconds, pre-epoch and far-future
 * times, raw-bytes names, symlinks not followed; checked with GNU stat.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, symlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setNsTimesPython, nsString, PYTHON } from './nstimes.js';
import { isOci2fsError } from '../../errors.js';

const HAVE_PYTHON = spawnSync(PYTHON, ['--version'], { stdio: 'ignore' }).status === 0;

/** "%X %Y" with nanoseconds of the one entry matching a shell glob in `cwd`, read by GNU stat (symlinks not followed). */
function times(cwd: string, glob: string): string {
  const r = spawnSync('sh', ['-c', `stat -c '%.9X %.9Y' ${glob}`], { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('nsString is exact beyond 2^53 and before the epoch', () => {
  assert.equal(nsString(2 ** 33, 123_456_789), '8589934592123456789');
  assert.equal(nsString(-3, 500_000_000), '-2500000000');
  assert.equal(nsString(0, 0), '0');
});

test('setNsTimesPython sets exact times on raw-bytes paths, never through symlinks', async (t) => {
  if (!HAVE_PYTHON) return t.skip(`${PYTHON} not installed (the dir writer falls back to touch)`);
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-nstimes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bad = Buffer.from('bad\xff\xfe', 'latin1');
  await mkdir(Buffer.concat([Buffer.from(dir + '/'), bad]));
  await writeFile(join(dir, 'target'), 't');
  const before = times(dir, 'target');
  await symlink('target', join(dir, 'link'));
  const inBad = Buffer.concat([bad, Buffer.from('/f\nx', 'latin1')]);
  await writeFile(Buffer.concat([Buffer.from(dir + '/'), inBad]), 'x');
  const ok = await setNsTimesPython(dir, [
    { rel: inBad, sec: -3, nsec: 500_000_000 },
    { rel: bad, sec: 2 ** 33, nsec: 123_456_789 },
    { rel: Buffer.from('link'), sec: 7, nsec: 1 },
    { rel: Buffer.from('.'), sec: 1_600_000_000, nsec: 999_999_999 },
  ]);
  assert.equal(ok, true);
  // Globs read directories (which moves their atime): each directory is checked before it is globbed.
  assert.equal(times(dir, '.'), '1600000000.999999999 1600000000.999999999');
  assert.equal(times(dir, 'link'), '7.000000001 7.000000001');
  assert.equal(times(dir, 'target'), before);
  assert.equal(times(dir, 'bad??'), '8589934592.123456789 8589934592.123456789');
  assert.equal(times(dir, 'bad??/f?x'), '-2.500000000 -2.500000000');
});

test('setNsTimesPython: a missing entry fails with E_IO naming it; no python3 resolves false', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-nstimes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const missing = [{ rel: Buffer.from('nope'), sec: 1, nsec: 1 }];
  assert.equal(await setNsTimesPython(dir, missing, 'oci2fs-no-such-python'), false);
  assert.equal(await setNsTimesPython(dir, []), true);
  if (!HAVE_PYTHON) return t.skip(`${PYTHON} not installed`);
  await assert.rejects(setNsTimesPython(dir, missing), (e: unknown) => isOci2fsError(e, 'E_IO') && /nope/.test((e as Error).message));
});
