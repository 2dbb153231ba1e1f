import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuClockMs, threadCpuMs } from './thread-cpu.js';

test('threadCpuMs counts this thread working, not waiting', async (t) => {
  const start = threadCpuMs();
  if (start === null) return t.skip('no /proc/thread-self/schedstat or stat here (not Linux)');
  await sleep(300);
  const idle = (threadCpuMs() as number) - start;
  assert.ok(idle < 150, `a sleeping thread used ${idle} ms of CPU`);
  // Spin until the clock shows 200 ms of work (on a busy machine that takes longer than 200 ms of wall time).
  const from = threadCpuMs() as number;
  const giveUp = performance.now() + 20_000;
  let x = 0;
  while ((threadCpuMs() as number) - from < 200 && performance.now() < giveUp) {
    for (let i = 0; i < 100_000; i++) x += Math.sqrt(i);
  }
  const busy = (threadCpuMs() as number) - from;
  assert.ok(x > 0 && busy >= 200, `20 s of spinning counted only ${busy} ms of CPU`);
  assert.ok(cpuClockMs() >= from + busy, 'cpuClockMs is the same clock');
});
