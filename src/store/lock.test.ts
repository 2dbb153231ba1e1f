import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isOci2fsError, ErrorCode } from '../errors.js';
import { FileLock } from './lock.js';

const here = dirname(fileURLToPath(import.meta.url));

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-lock-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a second taker waits for the holder and gets the lock after release', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'x.lock');
  const a = await FileLock.acquire(path);
  let waited = false;
  let got = false;
  const b = FileLock.acquire(path, { onWait: () => (waited = true) }).then((l) => {
    got = true;
    return l;
  });
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(got, false);
  assert.equal(waited, true);
  await a.release();
  const lb = await b;
  await lb.release();
  assert.deepEqual(await readdir(dir), [], 'no lock or helper files left');
});

test('a live holder keeps its lock past staleMs thanks to the heartbeat', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'x.lock');
  const a = await FileLock.acquire(path, { staleMs: 200, heartbeatMs: 40 });
  await assert.rejects(FileLock.acquire(path, { staleMs: 200, timeoutMs: 600 }), (e) => isOci2fsError(e, ErrorCode.STORE));
  assert.equal(a.lost, false);
  await a.release();
});

test('a lock whose heartbeat stopped is broken after staleMs', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'x.lock');
  // A holder on another host that vanished: its file is old.
  await writeFile(path, JSON.stringify({ host: 'elsewhere', node: 'n', pid: 1, token: 'abc' }));
  const old = new Date(Date.now() - 60_000);
  await utimes(path, old, old);
  const l = await FileLock.acquire(path, { timeoutMs: 2000 });
  await l.release();
});

test('a holder killed with SIGKILL on this host is taken over at once', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'x.lock');
  const script = `import { FileLock } from ${JSON.stringify(join(here, 'lock.js'))};
    await FileLock.acquire(${JSON.stringify(path)}); process.stdout.write('held\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const started = Date.now();
  // staleMs is the default 30 s: only the dead-pid rule can make this fast.
  const l = await FileLock.acquire(path, { timeoutMs: 5000 });
  assert.ok(Date.now() - started < 5000);
  await l.release();
});
