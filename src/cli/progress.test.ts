import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createProgress, formatBytes } from './progress.js';

function sink(): { out: Writable; text: () => string } {
  let s = '';
  const out = new Writable({
    write(chunk, _enc, cb) {
      s += chunk.toString();
      cb();
    },
  });
  return { out, text: () => s };
}

const A = 'sha256:' + 'a'.repeat(64);
const B = 'sha256:' + 'b'.repeat(64);

test('formatBytes uses binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 2 ** 20), '3.0 MiB');
});

test('the display shows each blob, its rate and ETA, a total, and redraws in place', () => {
  const { out, text } = sink();
  let now = 0;
  const p = createProgress(out, () => now);
  p.listener({ type: 'blob-start', digest: A, size: 10 * 2 ** 20, resumeFrom: 0 });
  p.listener({ type: 'blob-done', digest: B, size: 2 ** 20, cached: true });
  now = 1000;
  p.listener({ type: 'blob-progress', digest: A, bytes: 2 * 2 ** 20, size: 10 * 2 ** 20 });
  p.finish();
  const frames = text().split('\x1b[3A');
  assert.ok(frames.length >= 2, 'later frames move the cursor up over the previous one');
  const last = frames.pop()!;
  assert.match(last, /aaaaaaaaaaaa +2\.0 MiB \/ 10\.0 MiB +2\.0 MiB\/s ETA 4s/);
  assert.match(last, /bbbbbbbbbbbb +1\.0 MiB \/ 1\.0 MiB +cached/);
  assert.match(last, /total  3\.0 MiB \/ 11\.0 MiB  2\.0 MiB\/s  ETA 4s/);
});

test('redraws are throttled', () => {
  const { out, text } = sink();
  const p = createProgress(out, () => 5000);
  p.listener({ type: 'blob-start', digest: A, size: 100, resumeFrom: 0 });
  const before = text().length;
  for (let i = 1; i < 50; i++) p.listener({ type: 'blob-progress', digest: A, bytes: i, size: 100 });
  assert.equal(text().length, before, 'no redraw within PROGRESS_REDRAW_MS');
});
