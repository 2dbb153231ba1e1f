/**
 * Bounded read-ahead of small files for the ext4 data pass: many tiny
 * open/read/close round trips overlap instead of running one after the
 * other. Order of output is unaffected (the writer still consumes files in
 * allocation order); memory stays within PREFETCH_BYTES.
 */
import { readFile } from '../../tree/content.js';
import type { Prepared } from './prepare.js';

/** Files up to this size are read ahead concurrently (small-file latency dominates otherwise). */
const PREFETCH_FILE_MAX = 1 << 20;
/** Read-ahead window: at most this many files… */
const PREFETCH_FILES = 64;
/** …and this many bytes held in memory. */
const PREFETCH_BYTES = 32 << 20;

/** File content as it reaches the writer. */
export type Chunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Reads small files ahead of the writer, in order, within a bounded window,
 * so many open/read/close round trips overlap instead of running one by one.
 */
export class ReadAhead {
  private readonly pending = new Map<number, Promise<Uint8Array[]>>();
  private next = 0;
  private bytes = 0;

  constructor(private readonly items: Prepared[]) {}

  private small(i: number): boolean {
    const inode = this.items[i].node.inode;
    return inode?.kind === 'file' && this.items[i].extents.length > 0 && inode.size <= PREFETCH_FILE_MAX;
  }

  /** Starts reads for items after `current` while the window has room. */
  fill(current: number): void {
    if (this.next <= current) this.next = current + 1;
    while (this.next < this.items.length && this.pending.size < PREFETCH_FILES && this.bytes < PREFETCH_BYTES) {
      const i = this.next++;
      if (!this.small(i)) continue;
      const inode = this.items[i].node.inode;
      if (!inode || inode.kind !== 'file') continue;
      this.bytes += inode.size;
      const job = (async () => {
        const parts: Uint8Array[] = [];
        for await (const c of readFile(inode)) parts.push(c);
        return parts;
      })();
      job.catch(() => undefined); // surfaced when taken
      this.pending.set(i, job);
    }
  }

  /** The content of item `i`: prefetched chunks, or a live stream. */
  take(i: number): Chunks {
    const job = this.pending.get(i);
    const inode = this.items[i].node.inode;
    if (!inode || inode.kind !== 'file') return [];
    if (!job) return readFile(inode);
    this.pending.delete(i);
    this.bytes -= inode.size;
    return (async function* () {
      yield* await job;
    })();
  }
}
