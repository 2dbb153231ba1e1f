import test from 'node:test';
import assert from 'node:assert/strict';
import { forEachLimited, limiter } from './pool.js';

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

test('limiter: at most `slots` at once, first come first served, a slot freed by a failure too', async () => {
  const limit = limiter(2);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const job = (n: number) => async () => {
    running++;
    most = Math.max(most, running);
    order.push(n);
    await tick();
    await tick();
    running--;
    if (n === 1) throw new Error('one');
    return n;
  };
  const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => limit(job(n))));
  assert.equal(most, 2);
  assert.deepEqual(order, [1, 2, 3, 4, 5]);
  assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed')), ['failed', 2, 3, 4, 5]);
  // after everything settled, two run at once again
  running = 0;
  most = 0;
  await Promise.all([6, 7, 8].map((n) => limit(job(n))));
  assert.equal(most, 2);
});

test('limiter: a freed slot goes to the waiting call with the lowest priority, first come first served among equals', async () => {
  const limit = limiter(1);
  const order: string[] = [];
  let release!: () => void;
  const first = limit(() => new Promise<void>((r) => (release = r)));
  const waits = [
    limit(async () => void order.push('c3'), 3),
    limit(async () => void order.push('a1'), 1),
    limit(async () => void order.push('b3'), 3),
    limit(async () => void order.push('d0')),
  ];
  await tick();
  assert.deepEqual(order, [], 'all wait while the slot is taken');
  release();
  await Promise.all([first, ...waits]);
  assert.deepEqual(order, ['d0', 'a1', 'c3', 'b3']);
});
