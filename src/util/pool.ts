/**
 * Bounded concurrency for async work on the calling thread: `work` runs over
 * `items` in order, at most `jobs` at a time. After a failure nothing new
 * starts; the first failure is thrown once the running ones have settled
 * (no half-done work is abandoned while it holds a lock or a temp file).
 */
export async function forEachLimited<T>(items: readonly T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  if (failure) throw failure.e;
}

/** Runs work at most `slots` at a time; see limiter(). */
export type Limiter = <T>(work: () => Promise<T>, priority?: number) => Promise<T>;

/**
 * A limit on concurrent async work shared by callers that start it at
 * different times (forEachLimited needs all items up front): each call
 * waits for a free slot and frees it when its work settles, whether it
 * resolved or threw. A freed slot goes to the waiting call with the lowest
 * `priority` (default 0), first come first served among equals.
 */
export function limiter(slots: number): Limiter {
  let free = Math.max(1, slots);
  const waiting: { priority: number; go: () => void }[] = [];
  return async (work, priority = 0) => {
    if (free > 0) free--;
    else {
      await new Promise<void>((go) => {
        // after every waiting call of the same or a lower priority
        const at = waiting.findIndex((w) => w.priority > priority);
        waiting.splice(at < 0 ? waiting.length : at, 0, { priority, go });
      });
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next.go(); // the slot passes straight on
      else free++;
    }
  };
}
