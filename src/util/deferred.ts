/**
 * A promise settled from outside, for plans that hand out one promise per
 * piece of work (layer downloads, layer spills) before the work runs.
 */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(e: unknown): void;
}

/**
 * A deferred whose rejection counts as handled: a consumer may await it
 * much later, or never (it then learns of the failure elsewhere), and an
 * unhandled rejection would end the process.
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** `p`, marked handled (see deferred): for a plan's `done` that is awaited after other steps. */
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
