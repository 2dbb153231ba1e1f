import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuClockMs, threadCpuMs } from './thread-cpu.js';

test('threadCpuMs counts this thread working, not waiting', async (t) => {
  const start = threadCpuMs();
  if (start === null) return t.skip('no /proc/thread-self/stat here (not Linux)');
  await sleep(300);
  const idle = (threadCpuMs() as number) - start;
  assert.ok(idle < 150, `a sleeping thread used ${idle} ms of CPU`);
  const busyFrom = threadCpuMs() as number;
  const until = performance.now() + 300;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const busy = (threadCpuMs() as number) - busyFrom;
  assert.ok(x > 0 && busy >= 150, `300 ms of spinning counted ${busy} ms of CPU`);
  assert.ok(cpuClockMs() >= busyFrom + busy, 'cpuClockMs is the same clock');
});
