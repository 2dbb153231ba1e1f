import test from 'node:test';
import assert from 'node:assert/strict';
import { forEachLimited } from './pool.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

test('forEachLimited: at most `jobs` at once, in order; the first failure is thrown after the running ones settle', async () => {
  let running = 0;
  let most = 0;
  const started: number[] = [];
  const settled: number[] = [];
  await assert.rejects(
    forEachLimited([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      running++;
      most = Math.max(most, running);
      await tick();
      running--;
      settled.push(n);
      if (n === 2) throw new Error('two');
    }),
    /two/,
  );
  assert.equal(most, 2);
  assert.deepEqual(started, [1, 2, 3], 'nothing new starts after the failure');
  assert.deepEqual(settled.sort(), [1, 2, 3], 'the running one finished before the throw');
});
