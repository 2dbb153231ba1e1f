/**
 * DataWriter: bytes written on the thread pool land where they belong
 * (checked with cmp against a file written in one piece), sparse files keep
 * their size, and a failing write surfaces from drain with its path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openSync, writeFileSync, statSync, fstatSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataWriter, ASYNC_WRITE_MIN, MAX_BYTES_IN_FLIGHT } from './datawriter.js';

test('DataWriter: many files, large and small chunks, in any completion order, give the right bytes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-datawriter-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const w = new DataWriter();
  const chunk = 3 * ASYNC_WRITE_MIN + 5;
  const files = 4;
  // More than MAX_BYTES_IN_FLIGHT in total, so write() has to wait for room.
  const chunksPerFile = Math.ceil(MAX_BYTES_IN_FLIGHT / chunk / files) + 2;
  for (let f = 0; f < files; f++) {
    const whole: Buffer[] = [];
    const job = w.begin(openSync(join(dir, `f${f}`), 'wx'), `/f${f}`);
    let pos = 0;
    for (let i = 0; i < chunksPerFile; i++) {
      const big = Buffer.alloc(chunk, (f * 31 + i) & 0xff);
      const small = Buffer.from(`small ${f} ${i}\n`);
      await w.write(job, big, pos);
      await w.write(job, small, pos + big.length);
      whole.push(big, small);
      pos += big.length + small.length;
    }
    w.end(job);
    writeFileSync(join(dir, `expect${f}`), Buffer.concat(whole));
  }
  await w.drain();
  assert.equal(w.failed, null);
  for (let f = 0; f < files; f++) {
    const r = spawnSync('cmp', [join(dir, `f${f}`), join(dir, `expect${f}`)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  }
});

test('DataWriter: end(job, size) extends a sparse file; a failing write is reported by drain with its path, and the file closed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-datawriter-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const w = new DataWriter();
  const job = w.begin(openSync(join(dir, 'sparse'), 'wx'), '/sparse');
  await w.write(job, Buffer.alloc(ASYNC_WRITE_MIN, 1), 0);
  w.end(job, 10 << 20);
  await w.drain();
  assert.equal(statSync(join(dir, 'sparse')).size, 10 << 20);

  writeFileSync(join(dir, 'ro'), 'x');
  const fd = openSync(join(dir, 'ro'), 'r');
  const bad = w.begin(fd, '/ro');
  await w.write(bad, Buffer.alloc(ASYNC_WRITE_MIN), 0);
  w.end(bad);
  await assert.rejects(w.drain(), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
  assert.equal(w.failed?.path, '/ro');
  assert.throws(() => fstatSync(fd), (e: NodeJS.ErrnoException) => e.code === 'EBADF');
});
