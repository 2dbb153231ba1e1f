/**
 * The data area: file blocks and fragment blocks, written right after the
 * superblock (and compressor options).
 *
 * Blocks are read in the caller's order, compressed on the worker pool with
 * a bounded number in flight, and written strictly in submission order, so
 * the image never depends on thread timing. Per file:
 * - every full block that is all zeros is not stored (size 0 = sparse);
 * - the tail (size % blockSize bytes, the whole file when it is smaller
 *   than a block) is packed into the current fragment block;
 * - files with identical content (sha256 + size) are stored once: when a
 *   file turns out to be a duplicate after streaming it, the write position
 *   is rewound over its blocks and it shares the first copy's blocks and
 *   fragment. Files with a sparse map are not hashed (hashing gigabytes of
 *   holes would cost more than it saves) and never deduplicated.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { readContent } from '../../tree/content.js';
import type { FileInode } from '../../tree/types.js';
import type { BlockResult, CompressPool } from '../compressors/pool.js';
import { DATA_UNCOMPRESSED, INVALID_FRAGMENT } from './constants.js';
import { writeAll } from './io.js';

/** Where a file's data ended up. Filled in asynchronously; complete after `finish()`. */
export interface FileData {
  /** Absolute position of the first block. */
  start: number;
  /** On-disk size word of each full block. */
  blocks: number[];
  fragment: number;
  fragmentOffset: number;
  /** Bytes not stored because whole blocks were zero. */
  sparse: number;
}

/** One fragment table entry (size word includes the uncompressed bit). */
export interface FragmentEntry {
  start: number;
  size: number;
}

export class DataWriter {
  /** Fragment blocks written (or queued), in index order. */
  readonly fragments: FragmentEntry[] = [];
  /** Bytes of file content read so far. */
  bytesRead = 0;
  private pos: number;
  private tail: Promise<void> = Promise.resolve();
  private inflight = 0;
  private readonly waiters: (() => void)[] = [];
  private error: unknown = null;
  private readonly seen = new Map<string, FileData>();
  private fragBuf: Uint8Array;
  private fragLen = 0;
  private readonly zeros: Buffer;

  constructor(
    private readonly fh: FileHandle,
    start: number,
    private readonly pool: CompressPool,
    private readonly blockSize: number,
    private readonly window: number,
  ) {
    this.pos = start;
    this.fragBuf = new Uint8Array(blockSize);
    this.zeros = Buffer.alloc(blockSize);
  }

  /** Runs `step` after every earlier step, in order. */
  private enqueue(step: () => Promise<void> | void, counted: boolean): void {
    this.tail = this.tail.then(async () => {
      try {
        if (this.error === null) await step();
      } catch (e) {
        this.error = e;
      } finally {
        if (counted) {
          this.inflight--;
          this.waiters.shift()?.();
        }
      }
    });
  }

  /** Waits until fewer than `window` blocks are in flight. */
  private async slot(): Promise<void> {
    while (this.inflight >= this.window) await new Promise<void>((r) => this.waiters.push(r));
    if (this.error !== null) throw this.error;
    this.inflight++;
  }

  private async writeBlock(r: BlockResult): Promise<number> {
    const len = r.data.length;
    await writeAll(this.fh, r.data, this.pos);
    this.pos += len;
    return r.compressed ? len : len | DATA_UNCOMPRESSED;
  }

  /** Compresses and queues one block; `done` receives its size word once written. */
  private async submit(block: Uint8Array, done: (size: number) => void): Promise<void> {
    await this.slot();
    const p = this.pool.compress(block);
    p.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
    this.enqueue(async () => done(await this.writeBlock(await p)), true);
  }

  private isZero(block: Uint8Array): boolean {
    return Buffer.from(block.buffer, block.byteOffset, block.length).equals(this.zeros.subarray(0, block.length));
  }

  /** Streams one file's content into the image (`chunks`: its content, already read). */
  async addFile(inode: FileInode, chunks?: Iterable<Uint8Array>): Promise<FileData> {
    const bs = this.blockSize;
    const size = inode.size;
    const fullBlocks = Math.floor(size / bs);
    const tailLen = size % bs;
    const rec: FileData = { start: 0, blocks: new Array<number>(fullBlocks).fill(0), fragment: INVALID_FRAGMENT, fragmentOffset: 0, sparse: 0 };
    if (size === 0) return rec;
    const hash = inode.content.kind === 'file' && inode.content.sparse ? null : createHash('sha256');
    // Files without full blocks keep start 0: nothing is read from there.
    if (fullBlocks > 0) this.enqueue(() => { rec.start = this.pos; }, false);
    let cur = new Uint8Array(Math.min(bs, size));
    let curLen = 0;
    let index = 0;
    const tail = new Uint8Array(tailLen);
    let tailFill = 0;
    for await (const chunk of chunks ?? readContent(inode.content, size)) {
      hash?.update(chunk);
      this.bytesRead += chunk.length;
      let i = 0;
      while (i < chunk.length) {
        if (index < fullBlocks) {
          const k = Math.min(chunk.length - i, bs - curLen);
          cur.set(chunk.subarray(i, i + k), curLen);
          curLen += k;
          i += k;
          if (curLen === bs) {
            const at = index++;
            curLen = 0;
            if (this.isZero(cur)) {
              rec.sparse += bs;
              continue; // reuse `cur`
            }
            await this.submit(cur, (s) => { rec.blocks[at] = s; });
            cur = new Uint8Array(bs);
          }
        } else {
          const k = Math.min(chunk.length - i, tailLen - tailFill);
          if (k === 0) throw new Oci2fsError(ErrorCode.INTERNAL, `file content longer than its size ${size}`);
          tail.set(chunk.subarray(i, i + k), tailFill);
          tailFill += k;
          i += k;
        }
      }
    }
    if (index !== fullBlocks || tailFill !== tailLen) {
      throw new Oci2fsError(ErrorCode.INTERNAL, `file content shorter than its size ${size}`);
    }
    if (hash) {
      const key = `${hash.digest('hex')}:${size}`;
      const first = this.seen.get(key);
      if (first) {
        if (fullBlocks > 0) this.enqueue(() => { this.pos = rec.start; }, false); // drop this copy's blocks
        return first;
      }
      this.seen.set(key, rec);
    }
    if (tailLen > 0) await this.addTail(rec, tail);
    return rec;
  }

  private async addTail(rec: FileData, tail: Uint8Array): Promise<void> {
    if (this.fragLen + tail.length > this.blockSize) await this.flushFragment();
    rec.fragment = this.fragments.length;
    rec.fragmentOffset = this.fragLen;
    this.fragBuf.set(tail, this.fragLen);
    this.fragLen += tail.length;
  }

  private async flushFragment(): Promise<void> {
    if (this.fragLen === 0) return;
    const entry: FragmentEntry = { start: 0, size: 0 };
    this.fragments.push(entry);
    const block = this.fragBuf.subarray(0, this.fragLen);
    this.fragBuf = new Uint8Array(this.blockSize);
    this.fragLen = 0;
    this.enqueue(() => { entry.start = this.pos; }, false);
    await this.submit(block, (s) => { entry.size = s; });
  }

  /** Writes the last fragment, waits for every block; returns the end of the data area. */
  async finish(): Promise<number> {
    await this.flushFragment();
    await this.tail;
    if (this.error !== null) throw this.error;
    return this.pos;
  }

  /** Waits for queued work after a failure elsewhere (so no write lands after the caller closes the file). */
  async abandon(): Promise<void> {
    this.error ??= new Error('abandoned');
    await this.tail;
  }
}
