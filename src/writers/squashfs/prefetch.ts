/**
 * Read-ahead of small files. Opening, reading and closing many small files
 * one after the other is dominated by I/O latency, so the contents of the
 * next small files are read concurrently (bounded by count and bytes) while
 * the current one is being packed. Files are still consumed strictly in
 * order, so the image does not depend on which read finished first.
 */
import { readContent } from '../../tree/content.js';
import type { FileInode } from '../../tree/types.js';

/** Files up to this size are read ahead whole. */
const PREFETCH_FILE_MAX = 256 * 1024;
/** At most this many files are read ahead. */
const PREFETCH_COUNT = 64;
/** At most this many bytes are held by read-ahead. */
const PREFETCH_BYTES = 16 << 20;

async function collect(f: FileInode): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const c of readContent(f.content, f.size)) parts.push(c);
  return parts;
}

export class Prefetcher {
  private readonly ahead = new Map<number, Promise<Uint8Array[]>>();
  private next = 0;
  private bytes = 0;

  constructor(private readonly files: readonly FileInode[]) {}

  private small(f: FileInode): boolean {
    return f.size > 0 && f.size <= PREFETCH_FILE_MAX && f.content.kind === 'file';
  }

  private fill(from: number): void {
    if (this.next < from) this.next = from;
    while (this.next < this.files.length && this.next < from + PREFETCH_COUNT && this.ahead.size < PREFETCH_COUNT) {
      const f = this.files[this.next];
      if (this.small(f)) {
        if (this.bytes + f.size > PREFETCH_BYTES) break;
        const p = collect(f);
        p.catch(() => {}); // awaited in order by take(); avoid an unhandled rejection meanwhile
        this.ahead.set(this.next, p);
        this.bytes += f.size;
      }
      this.next++;
    }
  }

  /**
   * The content of file `i` if it was read ahead (await it), else null (stream
   * it with readContent). Call with increasing `i`.
   */
  take(i: number): Promise<Uint8Array[]> | null {
    if (!this.ahead.has(i) && this.small(this.files[i])) this.fill(i);
    const p = this.ahead.get(i) ?? null;
    if (p) {
      this.ahead.delete(i);
      this.bytes -= this.files[i].size;
    }
    this.fill(i + 1);
    return p;
  }

  /** Waits for outstanding reads (after a failure), so no read outlives the writer. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.ahead.values()]);
    this.ahead.clear();
  }
}
