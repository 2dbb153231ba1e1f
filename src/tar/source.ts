/**
 * Byte sources for the tar reader: a sequential reader over an async
 * iterable of chunks (decompressor output, sockets) and a positional reader
 * over a file (skipping data is a seek, not a read). Both track the offset
 * in the uncompressed stream, which entries report as `dataOffset`.
 */
import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { CapturedBlocks } from './captured.js';

/** Largest chunk a source hands out at once. */
export const SOURCE_CHUNK = 1 << 20;

/**
 * Sequential access to the bytes of a tar stream. The bytes `read` and
 * `readSome` return may be valid only until the next call (FileSource
 * reuses its buffer): a caller copies what it keeps.
 */
export interface ByteSource {
  /** Offset of the next unread byte. */
  readonly position: number;
  /** Exactly `n` bytes, or fewer only at end of stream. */
  read(n: number): Promise<Uint8Array>;
  /** Between 1 and `max` bytes, or an empty array at end of stream. */
  readSome(max: number): Promise<Uint8Array>;
  /** Skips up to `n` bytes; returns how many were skipped (fewer at end of stream). */
  skip(n: number): Promise<number>;
  /**
   * read and skip without a promise, for a source that never has to wait
   * (a file): listing a layer is a few reads per entry, and a promise per
   * read was a good part of it.
   */
  readNow?(n: number): Uint8Array;
  skipNow?(n: number): number;
  /** Consumes everything that is left (so upstream digests see the whole stream). */
  drain(): Promise<void>;
  /** Releases the underlying stream or file. Idempotent. */
  close(): Promise<void>;
}

/** A ByteSource over an async iterable of chunks. */
export class IterableSource implements ByteSource {
  private readonly it: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private done = false;
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Ensures unread bytes are buffered; false at end of stream. */
  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.chunk = r.value;
      this.at = 0;
    }
    return true;
  }

  async readSome(max: number): Promise<Uint8Array> {
    if (max <= 0 || !(await this.fill())) return new Uint8Array(0);
    const n = Math.min(max, this.chunk.length - this.at, SOURCE_CHUNK);
    const out = this.chunk.subarray(this.at, this.at + n);
    this.at += n;
    this.position += n;
    return out;
  }

  async read(n: number): Promise<Uint8Array> {
    const first = await this.readSome(n);
    if (first.length === n || first.length === 0) return first;
    const out = new Uint8Array(n);
    out.set(first, 0);
    let got = first.length;
    while (got < n) {
      const part = await this.readSome(n - got);
      if (part.length === 0) return out.subarray(0, got);
      out.set(part, got);
      got += part.length;
    }
    return out;
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const part = await this.readSome(left);
      if (part.length === 0) break;
      left -= part.length;
    }
    return n - left;
  }

  async drain(): Promise<void> {
    while ((await this.readSome(SOURCE_CHUNK)).length > 0) {
      // discard
    }
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.it.return?.();
  }
}

/**
 * Read-ahead of FileSource: small reads (headers) are served from one
 * buffered window, so listing a layer costs about one pread per window
 * rather than one per header.
 */
export const FILE_READAHEAD = 8 << 10;

/**
 * A ByteSource over a file, reading with positional reads. Small reads are
 * served from one window buffer that every refill reuses: what they return
 * is valid only until the next call (the tar reader copies what it keeps).
 * A fresh buffer per refill cost a 8 KiB ArrayBuffer per header read, whose
 * allocation and garbage collection were a third of listing a layer.
 * Bytes a capture holds (captured.ts) are served from it, without a read.
 */
export class FileSource implements ByteSource {
  position = 0;
  private closed = false;
  /** Window buffer, reused by every refill. */
  private readonly winBuf = Buffer.allocUnsafe(FILE_READAHEAD);
  /** Buffered window [winStart, winStart + win.length), a view of winBuf. */
  private win: Uint8Array = new Uint8Array(0);
  private winStart = 0;
  /** Reads of the file so far (what a capture saves; for tests). */
  fileReads = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly captured: CapturedBlocks | undefined,
  ) {}

  /** Opens `path` (throws the fs error if it cannot); `captured` holds some of its bytes. */
  static async open(path: string, captured?: CapturedBlocks): Promise<FileSource> {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      return new FileSource(fh, st.size, captured);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /**
   * Synchronous positional read: listing a layer is thousands of tiny reads
   * of (usually page-cached) headers, where a thread-pool round trip per read
   * costs more than the read itself.
   */
  private pread(n: number, at: number, buf: Buffer = Buffer.allocUnsafe(n)): Uint8Array {
    this.fileReads++;
    let got = 0;
    while (got < n) {
      const bytesRead = readSync(this.fh.fd, buf, got, n - got, at + got);
      if (bytesRead === 0) break; // file shrank underneath us
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }

  async readSome(max: number): Promise<Uint8Array> {
    return this.readSomeNow(max);
  }

  private readSomeNow(max: number): Uint8Array {
    const n = Math.min(max, this.size - this.position, SOURCE_CHUNK);
    if (n <= 0) return new Uint8Array(0);
    const inWin = this.position - this.winStart;
    const held = this.captured?.from(this.position);
    let out: Uint8Array;
    if (held) {
      out = held.subarray(0, n);
    } else if (inWin >= 0 && inWin < this.win.length) {
      out = this.win.subarray(inWin, inWin + Math.min(n, this.win.length - inWin));
    } else if (n >= FILE_READAHEAD) {
      out = this.pread(n, this.position);
    } else {
      this.win = this.pread(Math.min(FILE_READAHEAD, this.size - this.position), this.position, this.winBuf);
      this.winStart = this.position;
      out = this.win.subarray(0, Math.min(n, this.win.length));
    }
    this.position += out.length;
    return out;
  }

  async read(n: number): Promise<Uint8Array> {
    return this.readNow(n);
  }

  readNow(n: number): Uint8Array {
    const first = this.readSomeNow(n);
    if (first.length === n || first.length === 0) return first;
    const out = new Uint8Array(n);
    out.set(first, 0);
    let got = first.length;
    while (got < n) {
      const part = this.readSomeNow(n - got);
      if (part.length === 0) break;
      out.set(part, got);
      got += part.length;
    }
    return got === n ? out : out.subarray(0, got);
  }

  async skip(n: number): Promise<number> {
    return this.skipNow(n);
  }

  skipNow(n: number): number {
    const k = Math.max(0, Math.min(n, this.size - this.position));
    this.position += k;
    return k;
  }

  async drain(): Promise<void> {
    this.position = Math.max(this.position, this.size);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
