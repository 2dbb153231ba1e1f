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
