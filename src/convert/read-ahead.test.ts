import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READ_AHEAD_MIN_BYTES, startReadAhead } from './read-ahead.js';

/** Bytes this process has read through read(2) and friends, all threads (proc(5), /proc/pid/io "rchar"). */
function bytesRead(): number {
  const m = /^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  assert.ok(m, 'no rchar in /proc/self/io');
  return Number(m[1]);
}

function files(sizes: number[]) {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-readahead-'));
  const list = sizes.map((size, i) => {
    const path = join(dir, `tar${i}`);
    writeFileSync(path, Buffer.alloc(size, i + 1));
    return { path, size };
  });
  return { dir, list };
}

test('read-ahead reads every file front to back, on its own thread', async () => {
  const f = files([READ_AHEAD_MIN_BYTES, 3 << 20]);
  try {
    const before = bytesRead();
    const ra = startReadAhead(f.list, Infinity);
    await ra.done;
    const read = bytesRead() - before;
    const total = READ_AHEAD_MIN_BYTES + (3 << 20);
    assert.ok(read >= total, `read ${read} bytes, expected at least ${total}`);
    await ra.stop(); // after the end: nothing left to stop
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('read-ahead stops at its budget, and is not started for little data', async () => {
  const f = files([READ_AHEAD_MIN_BYTES * 2]);
  try {
    let before = bytesRead();
    await startReadAhead(f.list, 16 << 20).done;
    const read = bytesRead() - before;
    assert.ok(read >= 16 << 20 && read < READ_AHEAD_MIN_BYTES, `budget 16 MiB, read ${read} bytes`);
    before = bytesRead();
    await startReadAhead([{ path: f.list[0].path, size: READ_AHEAD_MIN_BYTES - 1 }], Infinity).done;
    assert.ok(bytesRead() - before < 1 << 20, 'below READ_AHEAD_MIN_BYTES nothing is read');
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('read-ahead: a missing or unreadable file is skipped, the rest is read', async () => {
  const f = files([READ_AHEAD_MIN_BYTES]);
  try {
    const before = bytesRead();
    await startReadAhead([{ path: join(f.dir, 'gone'), size: 1 << 30 }, f.list[0]], Infinity).done;
    assert.ok(bytesRead() - before >= READ_AHEAD_MIN_BYTES);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});
