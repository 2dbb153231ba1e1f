/**
 * The entry index of a layer tar: every entry as the tar reader decoded it
 * (TarEntry, data located by offset), in archive order, in one small
 * binary file. A conversion that finds a spilled layer's index reads it
 * instead of the tar's headers: 53k entries are ~8 MB to decode in
 * milliseconds, against ~0.6 s of header reads spread over 1.5 GB (more
 * from a cold cache). Pure encode/decode here; convert/entry-index-file.ts
 * does the I/O. Layout (all integers little-endian), in columns so that
 * both directions are typed-array stores and loads rather than a call per
 * field (encoding the bench image's 53k entries row by row took ~0.15 s of
 * the first conversion's main thread):
 *
 *   magic "oci2fsTI", u32 version, 32-byte sha256 of the indexed tar
 *   (its diff_id), f64 tar size, u32 entry count            (56 bytes)
 *   f64 × 10 per entry: mode uid gid mtimeSec mtimeNsec size devMajor
 *     devMinor dataOffset dataLength (exact for integers below 2^53,
 *     which the reader guarantees)
 *   u32 × 2 per entry: byte lengths of path and linkname
 *   u8 per entry: type
 *   the paths and linknames, back to back (latin1: byte strings)
 *   u32 count of entries with xattrs or a sparse map, then for each: u32
 *     entry number, u32 xattr count + (u32 length + name, u32 length +
 *     value) pairs, u32 sparse segment count + 1 (0: no sparse map) and
 *     (f64 offset, f64 length) per segment
 *   32-byte sha256 of everything before it.
 */
import { createHash } from 'node:crypto';
import { NO_XATTRS, type TarEntry, type TarEntryType } from './entry.js';

/** File magic: "oci2fsTI" (tar index). */
const MAGIC = Buffer.from('oci2fsTI', 'latin1');
/** Format version: bump on any change to the layout or to what the reader puts in a TarEntry. */
export const ENTRY_INDEX_VERSION = 2;
const DIGEST_BYTES = 32;
/** magic + version + tar digest + tar size + count; a multiple of 8, so the f64 column is aligned */
const HEADER_BYTES = MAGIC.length + 4 + DIGEST_BYTES + 8 + 4;
/** Numeric fields per entry (the f64 column). */
const NUMBERS = 10;

const TYPES: readonly TarEntryType[] = ['file', 'hardlink', 'symlink', 'chardev', 'blockdev', 'dir', 'fifo'];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));

/** What an index must belong to: the tar's sha256 (hex) and size. */
export interface IndexedTar {
  sha256: string;
  size: number;
}

/** Bytes of one entry's row in the extras section (it has xattrs or a sparse map). */
function extraBytes(e: TarEntry): number {
  let n = 4 + 4 + 4;
  for (const [k, v] of e.xattrs) n += 8 + k.length + v.length;
  return n + (e.sparse?.length ?? 0) * 16;
}

/**
 * Builds an index entry by entry, as the tar is read: each entry goes into
 * the columns while it is still in the CPU's cache, and the reader need not
 * keep the entries until the end of the layer (encoding them all at the end
 * cost ~0.15 s of the first conversion, most of it loading 53k scattered
 * objects again).
 */
export class EntryIndexBuilder {
  private count = 0;
  private nums: Float64Array;
  private lens: Uint32Array;
  private types: Uint8Array;
  private readonly text: string[] = [];
  private textBytes = 0;
  /** Entries with xattrs or a sparse map (few), by entry number. */
  private readonly extras: [number, TarEntry][] = [];

  /**
   * `expected`: entries there will likely be (the capture's block count):
   * room made once instead of doubled and copied as entries come (~35 ms
   * of the first conversion's main thread for the bench image).
   */
  constructor(expected = 1024) {
    const room = Math.max(16, Math.ceil(expected));
    this.nums = new Float64Array(room * NUMBERS);
    this.lens = new Uint32Array(room * 2);
    this.types = new Uint8Array(room);
  }

  add(e: TarEntry): void {
    const i = this.count++;
    if (i === this.types.length) this.grow();
    const nums = this.nums;
    const n = i * NUMBERS;
    nums[n] = e.mode;
    nums[n + 1] = e.uid;
    nums[n + 2] = e.gid;
    nums[n + 3] = e.mtimeSec;
    nums[n + 4] = e.mtimeNsec;
    nums[n + 5] = e.size;
    nums[n + 6] = e.devMajor;
    nums[n + 7] = e.devMinor;
    nums[n + 8] = e.dataOffset;
    nums[n + 9] = e.dataLength;
    this.lens[2 * i] = e.path.length;
    this.lens[2 * i + 1] = e.linkname.length;
    this.types[i] = TYPE_CODE.get(e.type) as number;
    this.text.push(e.path, e.linkname);
    this.textBytes += e.path.length + e.linkname.length;
    if (e.xattrs.size > 0 || e.sparse) this.extras.push([i, e]);
  }

  /** Doubles the columns' room, keeping what they hold. */
  private grow(): void {
    const room = this.types.length * 2;
    const nums = new Float64Array(room * NUMBERS);
    const lens = new Uint32Array(room * 2);
    const types = new Uint8Array(room);
    nums.set(this.nums);
    lens.set(this.lens);
    types.set(this.types);
    [this.nums, this.lens, this.types] = [nums, lens, types];
  }

  /** The index file's bytes for the entries added, which are those of `tar` in archive order. */
  finish(tar: IndexedTar): Buffer {
    const count = this.count;
    let extrasBytes = 4;
    for (const [, e] of this.extras) extrasBytes += extraBytes(e);
    const lengthsAt = HEADER_BYTES + count * NUMBERS * 8;
    const typesAt = lengthsAt + count * 8;
    const textAt = typesAt + count;
    const extrasAt = textAt + this.textBytes;
    const b = Buffer.alloc(extrasAt + extrasBytes + DIGEST_BYTES);
    let at = MAGIC.copy(b, 0);
    at = b.writeUInt32LE(ENTRY_INDEX_VERSION, at);
    at += b.write(tar.sha256, at, 'hex');
    at = b.writeDoubleLE(tar.size, at);
    b.writeUInt32LE(count, at);
    b.set(new Uint8Array(this.nums.buffer, 0, count * NUMBERS * 8), HEADER_BYTES);
    b.set(new Uint8Array(this.lens.buffer, 0, count * 8), lengthsAt);
    b.set(this.types.subarray(0, count), typesAt);
    b.write(this.text.join(''), textAt, 'latin1');
    at = b.writeUInt32LE(this.extras.length, extrasAt);
    const bytes = (s: string | Uint8Array): void => {
      at = b.writeUInt32LE(s.length, at);
      if (typeof s === 'string') at += b.write(s, at, 'latin1');
      else at += (b.set(s, at), s.length);
    };
    for (const [i, e] of this.extras) {
      at = b.writeUInt32LE(i, at);
      at = b.writeUInt32LE(e.xattrs.size, at);
      for (const [k, v] of e.xattrs) {
        bytes(k);
        bytes(v);
      }
      at = b.writeUInt32LE(e.sparse ? e.sparse.length + 1 : 0, at);
      for (const seg of e.sparse ?? []) {
        at = b.writeDoubleLE(seg.offset, at);
        at = b.writeDoubleLE(seg.length, at);
      }
    }
    createHash('sha256').update(b.subarray(0, at)).digest().copy(b, at);
    return b;
  }
}

/** Encodes the entries of `tar` (in archive order) as an index file's bytes. */
export function encodeEntryIndex(entries: readonly TarEntry[], tar: IndexedTar): Buffer {
  const builder = new EntryIndexBuilder();
  for (const e of entries) builder.add(e);
  return builder.finish(tar);
}

/** A column of `n` items of `T` at byte `at` of `b` (a copy when `b` is not aligned for it there). */
function column<T extends Float64Array | Uint32Array>(Type: { new (buf: ArrayBuffer, at: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number }, b: Buffer, at: number, n: number): T {
  const offset = b.byteOffset + at;
  if (offset % Type.BYTES_PER_ELEMENT === 0) return new Type(b.buffer as ArrayBuffer, offset, n);
  const copy = new Type(n);
  new Uint8Array(copy.buffer).set(b.subarray(at, at + n * Type.BYTES_PER_ELEMENT));
  return copy;
}

/**
 * Decodes an index file's bytes; undefined when they are not a complete,
 * intact index of this version for `tar` (the caller then reads the tar).
 */
export function decodeEntryIndex(b: Buffer, tar: IndexedTar): TarEntry[] | undefined {
  if (b.length < HEADER_BYTES + 4 + DIGEST_BYTES || !b.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  let at = MAGIC.length;
  if (b.readUInt32LE(at) !== ENTRY_INDEX_VERSION) return undefined;
  at += 4;
  if (b.toString('hex', at, at + DIGEST_BYTES) !== tar.sha256) return undefined;
  at += DIGEST_BYTES;
  if (b.readDoubleLE(at) !== tar.size) return undefined;
  at += 8;
  const end = b.length - DIGEST_BYTES;
  if (!createHash('sha256').update(b.subarray(0, end)).digest().equals(b.subarray(end))) return undefined;
  const count = b.readUInt32LE(at);
  const lengthsAt = HEADER_BYTES + count * NUMBERS * 8;
  const typesAt = lengthsAt + count * 8;
  const textAt = typesAt + count;
  if (textAt > end) return undefined;
  const nums = column(Float64Array, b, HEADER_BYTES, count * NUMBERS);
  const lens = column(Uint32Array, b, lengthsAt, count * 2);
  let textBytes = 0;
  for (let i = 0; i < count * 2; i++) textBytes += lens[i];
  if (textAt + textBytes + 4 > end) return undefined;
  const text = b.toString('latin1', textAt, textAt + textBytes);
  const entries: TarEntry[] = new Array(count);
  let t = 0;
  for (let i = 0; i < count; i++) {
    const type = TYPES[b[typesAt + i]];
    if (type === undefined) return undefined;
    const n = i * NUMBERS;
    const path = text.slice(t, (t += lens[2 * i]));
    const linkname = text.slice(t, (t += lens[2 * i + 1]));
    entries[i] = {
      path, type, mode: nums[n], uid: nums[n + 1], gid: nums[n + 2], mtimeSec: nums[n + 3], mtimeNsec: nums[n + 4], size: nums[n + 5],
      linkname, devMajor: nums[n + 6], devMinor: nums[n + 7], xattrs: NO_XATTRS, dataOffset: nums[n + 8], dataLength: nums[n + 9],
    };
  }
  at = textAt + textBytes;
  const str = (): string => {
    const len = b.readUInt32LE(at);
    at += 4 + len;
    return b.toString('latin1', at - len, at);
  };
  try {
    let last = -1;
    for (let extras = b.readUInt32LE((at += 4) - 4); extras > 0; extras--) {
      const i = b.readUInt32LE(at);
      if (i <= last || i >= count) return undefined;
      last = i;
      const e = entries[i];
      const nXattrs = b.readUInt32LE((at += 8) - 4);
      if (nXattrs > 0) e.xattrs = new Map();
      for (let x = nXattrs; x > 0; x--) {
        const k = str();
        const len = b.readUInt32LE(at);
        at += 4 + len;
        e.xattrs.set(k, new Uint8Array(b.subarray(at - len, at))); // a copy: the file buffer is dropped
      }
      const nSparse = b.readUInt32LE(at);
      at += 4;
      if (nSparse > 0) e.sparse = [];
      for (let s = 1; s < nSparse; s++) {
        e.sparse!.push({ offset: b.readDoubleLE(at), length: b.readDoubleLE(at + 8) });
        at += 16;
      }
      if (at > end) return undefined;
    }
  } catch {
    return undefined; // read past the end: not an index (the checksum makes this unlikely)
  }
  return at === end ? entries : undefined;
}
