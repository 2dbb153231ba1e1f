/**
 * Metadata block streams. Every squashfs table (inodes, directories,
 * fragment/id/export/xattr lookup tables, xattr key/values) is a sequence of
 * metadata blocks: a u16 length header (bit 15 set = stored uncompressed)
 * followed by at most 8 KiB of (compressed) payload. Positions inside such a
 * stream are "references": (byte offset of the block's header relative to
 * the table start) << 16 | (offset inside the uncompressed block).
 */
import type { BlockCompressFn } from '../compressors/index.js';
import { METADATA_SIZE, METADATA_UNCOMPRESSED } from './constants.js';

/** Size of a metadata block's length header. */
const METADATA_HEADER_SIZE = 2;

/** A position in a metadata stream. */
export interface MetaRef {
  /** Offset of the block's header from the table start (compressed bytes). */
  block: number;
  /** Offset inside the uncompressed block, 0..8191. */
  offset: number;
}

/** Packs a reference into the 48-bit integer tables and inodes store. */
export function packRef(r: MetaRef): number {
  return r.block * 0x10000 + r.offset;
}

/** Accumulates bytes into metadata blocks, compressing each full block at once. */
export class MetadataWriter {
  private readonly chunks: Uint8Array[] = [];
  /** Compressed length of the flushed blocks (= table-relative start of the current block). */
  private flushedBytes = 0;
  /** Table-relative start of each flushed block. */
  readonly blockStarts: number[] = [];
  private cur = new Uint8Array(METADATA_SIZE);
  private curLen = 0;

  constructor(private readonly compress: BlockCompressFn) {}

  /** The reference of the next byte to be written. */
  position(): MetaRef {
    return { block: this.flushedBytes, offset: this.curLen };
  }

  /** Uncompressed offset of the next byte from the start of the stream. */
  uncompressedPosition(): number {
    return this.blockStarts.length * METADATA_SIZE + this.curLen;
  }

  /**
   * Table-relative start of the block holding uncompressed offset `u`. Only
   * defined for blocks already flushed or the current one.
   */
  blockStartOf(u: number): number {
    const k = Math.floor(u / METADATA_SIZE);
    if (k < this.blockStarts.length) return this.blockStarts[k];
    if (k === this.blockStarts.length) return this.flushedBytes;
    throw new RangeError(`metadata block ${k} is not written yet`);
  }

  /** Appends bytes, flushing every completed block. */
  write(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      const k = Math.min(bytes.length - i, METADATA_SIZE - this.curLen);
      this.cur.set(bytes.subarray(i, i + k), this.curLen);
      this.curLen += k;
      i += k;
      if (this.curLen === METADATA_SIZE) this.flush();
    }
  }

  private flush(): void {
    if (this.curLen === 0) return;
    const raw = this.cur.subarray(0, this.curLen);
    const packed = this.compress(raw);
    const body = packed ?? raw.slice();
    const header = new Uint8Array(METADATA_HEADER_SIZE);
    const word = packed ? body.length : body.length | METADATA_UNCOMPRESSED;
    header[0] = word & 0xff;
    header[1] = word >>> 8;
    this.blockStarts.push(this.flushedBytes);
    this.chunks.push(header, body);
    this.flushedBytes += METADATA_HEADER_SIZE + body.length;
    this.cur = new Uint8Array(METADATA_SIZE);
    this.curLen = 0;
  }

  /** Flushes the last partial block and returns the table's bytes. */
  finish(): Buffer {
    this.flush();
    return Buffer.concat(this.chunks);
  }
}

/** Writes a little-endian u64 given as a JS number (< 2^53). */
export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % 0x100000000, at);
  buf.writeUInt32LE(Math.floor(value / 0x100000000), at + 4);
}

/** An encoded lookup table: metadata blocks followed by the u64 index of their absolute positions. */
export interface LookupTable {
  bytes: Buffer;
  /** Offset inside `bytes` of the index (what the superblock points at, relative to the table start). */
  indexOffset: number;
}

/**
 * Encodes a lookup table (fragment, id, export, xattr ids) to be placed at
 * absolute position `at`: entries in metadata blocks, then one u64 per
 * block with the block's absolute position (squashfs-tools-ng format.adoc,
 * "Storing Lookup Tables").
 */
export function encodeLookupTable(entries: Uint8Array, at: number, compress: BlockCompressFn, prefix?: Uint8Array): LookupTable {
  const mw = new MetadataWriter(compress);
  mw.write(entries);
  const meta = mw.finish();
  const pre = prefix ?? new Uint8Array(0);
  const index = Buffer.alloc(mw.blockStarts.length * 8);
  mw.blockStarts.forEach((s, i) => writeU64(index, at + s, i * 8));
  return { bytes: Buffer.concat([meta, pre, index]), indexOffset: meta.length };
}
