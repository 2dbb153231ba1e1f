/**
 * Progress reporting. The library never prints; it publishes events to an
 * optional listener that the CLI (or any embedder) renders.
 */

export type ProgressEvent =
  | { type: 'manifest'; reference: string; digest: string }
  | { type: 'blob-start'; digest: string; size: number; resumeFrom: number }
  | { type: 'blob-progress'; digest: string; bytes: number; size: number }
  | { type: 'blob-done'; digest: string; size: number; cached: boolean }
  | { type: 'blob-wait'; digest: string }
  | { type: 'retry'; url: string; attempt: number; delayMs: number; reason: string }
  | { type: 'layer-start'; index: number; digest: string }
  | { type: 'layer-done'; index: number; digest: string; entries: number }
  | { type: 'warning'; code: string; message: string }
  | { type: 'write-progress'; phase: string; done: number; total: number }
  | { type: 'cache-hit'; key: string; path: string }
  | { type: 'cache-wait'; key: string }
  /** A measurement of this run, not a property of the output (e.g. `compress-seconds`); values of one name add up. */
  | { type: 'stat'; name: string; value: number };

export type ProgressListener = (event: ProgressEvent) => void;

/** A listener that drops everything; the default. */
export const silent: ProgressListener = () => {};
