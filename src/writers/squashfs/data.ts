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
 *   holes would cost more than it saves) and never deduplicated. Files whose
 *   size no other file has are not hashed either: the key includes the size,
 *   so they can never match (same output, most bytes never hashed).
 */
import { createHash, type Hash } from 'node:crypto';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { readContent } from '../../tree/content.js';
import type { FileInode } from '../../tree/types.js';
import type { BlockResult, CompressPool } from '../compressors/pool.js';
import type { ImageOutput } from '../output.js';
import { DATA_UNCOMPRESSED, INVALID_FRAGMENT } from './constants.js';
import { ContentSources, isPlainFile } from '../sources.js';

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

/** Files with a sparse map are never hashed nor deduplicated. */
function hashable(f: FileInode): boolean {
  return !(f.content.kind === 'file' && f.content.sparse);
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
  /** Tails that do not fit the open fragment block are read here (see tailSpace). */
  private readonly tailScratch: Uint8Array;
  /** Plain contents are read straight into recycled block buffers (no copy, no fresh buffer per chunk). */
  private readonly source = new ContentSources();
  /** Sizes shared by at least two hashable files: only those can be duplicates. */
  private readonly dupSizes = new Set<number>();

  /** `files`: every file that will be added (to know which sizes can repeat). */
  constructor(
    private readonly out: ImageOutput,
    start: number,
    private readonly pool: CompressPool,
    private readonly blockSize: number,
    private readonly window: number,
    files: readonly FileInode[],
  ) {
    this.pos = start;
    this.fragBuf = pool.take(blockSize);
    this.zeros = Buffer.alloc(blockSize);
    this.tailScratch = new Uint8Array(blockSize);
    const once = new Set<number>();
    for (const f of files) {
      if (!hashable(f) || f.size === 0) continue;
      if (once.has(f.size)) this.dupSizes.add(f.size);
      else once.add(f.size);
    }
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
    await this.out.write(this.pos, r.data);
    this.pos += len;
    this.pool.recycle(r);
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

  /** Streams one file's content into the image. */
  async addFile(inode: FileInode): Promise<FileData> {
    const bs = this.blockSize;
    const size = inode.size;
    const fullBlocks = Math.floor(size / bs);
    const tailLen = size % bs;
    const rec: FileData = { start: 0, blocks: new Array<number>(fullBlocks).fill(0), fragment: INVALID_FRAGMENT, fragmentOffset: 0, sparse: 0 };
    if (size === 0) return rec;
    // A file whose size no other hashable file has cannot be (or have) a duplicate: skip hashing it.
    const hash = hashable(inode) && this.dupSizes.has(size) ? createHash('sha256') : null;
    // Files without full blocks keep start 0: nothing is read from there.
    if (fullBlocks > 0) this.enqueue(() => { rec.start = this.pos; }, false);
    const tail = this.tailSpace(tailLen);
    const content = inode.content;
    if (isPlainFile(content)) {
      if (content.length !== size) throw new Oci2fsError(ErrorCode.INTERNAL, `content length ${content.length} != size ${size}`);
      for (let at = 0; at < fullBlocks; at++) {
        const block = this.pool.take(bs);
        this.source.read(content, at * bs, block, bs);
        hash?.update(block);
        this.bytesRead += bs;
        if (this.isZero(block)) {
          rec.sparse += bs;
          this.pool.give(block);
          continue;
        }
        await this.submit(block, (s) => { rec.blocks[at] = s; });
      }
      if (tailLen > 0) {
        this.source.read(content, fullBlocks * bs, tail, tailLen);
        hash?.update(tail);
        this.bytesRead += tailLen;
      }
    } else {
      await this.streamFile(inode, rec, tail, hash);
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

  /** The general path (inline and sparse contents): copies readContent's chunks into blocks. */
  private async streamFile(inode: FileInode, rec: FileData, tail: Uint8Array, hash: Hash | null): Promise<void> {
    const bs = this.blockSize;
    const size = inode.size;
    const fullBlocks = rec.blocks.length;
    const tailLen = tail.length;
    let cur = fullBlocks > 0 ? this.pool.take(bs) : new Uint8Array(0);
    let curLen = 0;
    let index = 0;
    let tailFill = 0;
    for await (const chunk of readContent(inode.content, size)) {
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
            cur = this.pool.take(bs);
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
    if (fullBlocks > 0) this.pool.give(cur);
    if (index !== fullBlocks || tailFill !== tailLen) {
      throw new Oci2fsError(ErrorCode.INTERNAL, `file content shorter than its size ${size}`);
    }
  }

  /**
   * Where a file's tail is read: in place at the end of the open fragment
   * block when it fits there (addTail then only claims it; a duplicate's
   * tail is simply not claimed), else into the scratch buffer. Not a fresh
   * buffer per file: for the bench image's 880 MB of tails, the page faults
   * of fresh memory cost ~0.9 s of the reading thread.
   */
  private tailSpace(len: number): Uint8Array {
    if (this.fragLen + len <= this.blockSize) return this.fragBuf.subarray(this.fragLen, this.fragLen + len);
    return this.tailScratch.subarray(0, len);
  }

  private async addTail(rec: FileData, tail: Uint8Array): Promise<void> {
    const inPlace = tail.buffer === this.fragBuf.buffer && tail.byteOffset === this.fragBuf.byteOffset + this.fragLen;
    if (!inPlace) {
      if (this.fragLen + tail.length > this.blockSize) await this.flushFragment();
      this.fragBuf.set(tail, this.fragLen);
    }
    rec.fragment = this.fragments.length;
    rec.fragmentOffset = this.fragLen;
    this.fragLen += tail.length;
  }

  private async flushFragment(): Promise<void> {
    if (this.fragLen === 0) return;
    const entry: FragmentEntry = { start: 0, size: 0 };
    this.fragments.push(entry);
    const block = this.fragBuf.subarray(0, this.fragLen);
    this.fragBuf = this.pool.take(this.blockSize);
    this.fragLen = 0;
    this.enqueue(() => { entry.start = this.pos; }, false);
    await this.submit(block, (s) => { entry.size = s; });
  }

  /** Writes the last fragment, waits for every block; returns the end of the data area. */
  async finish(): Promise<number> {
    await this.flushFragment();
    await this.tail;
    this.source.close();
    if (this.error !== null) throw this.error;
    return this.pos;
  }

  /** Waits for queued work after a failure elsewhere (so no write lands after the caller closes the file). */
  async abandon(): Promise<void> {
    this.error ??= new Error('abandoned');
    await this.tail;
    this.source.close();
  }
}
