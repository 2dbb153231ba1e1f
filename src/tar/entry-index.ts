/**
 * The entry index of a layer tar: every entry as the tar reader decoded it
 * (TarEntry, data located by offset), in archive order, in one small
 * binary file. A conversion that finds a spilled layer's index reads it
 * instead of the tar's headers: 53k entries are ~8 MB to decode in
 * milliseconds, against ~0.6 s of header reads spread over 1.5 GB (more
 * from a cold cache). Pure encode/decode here; convert/entry-index-file.ts
 * does the I/O. Layout (all integers little-endian):
 *
 *   magic "oci2fsTI", u32 version, 32-byte sha256 of the indexed tar
 *   (its diff_id), f64 tar size, u32 entry count, entries…,
 *   32-byte sha256 of everything before it.
 *
 * An entry: u8 type, f64 mode uid gid mtimeSec mtimeNsec size devMajor
 * devMinor dataOffset dataLength (exact for integers below 2^53, which the
 * reader guarantees), then path and linkname (u32 length + bytes), u32
 * xattr count + (name, value) pairs, u32 sparse segment count + 1 (0: no
 * sparse map) and (f64 offset, f64 length) per segment.
 */
import { createHash } from 'node:crypto';
import type { TarEntry, TarEntryType } from './entry.js';

/** File magic: "oci2fsTI" (tar index). */
const MAGIC = Buffer.from('oci2fsTI', 'latin1');
/** Format version: bump on any change to the layout or to what the reader puts in a TarEntry. */
export const ENTRY_INDEX_VERSION = 1;
const DIGEST_BYTES = 32;
/** magic + version + tar digest + tar size + count */
const HEADER_BYTES = MAGIC.length + 4 + DIGEST_BYTES + 8 + 4;
const NUMBERS = 10;

const TYPES: readonly TarEntryType[] = ['file', 'hardlink', 'symlink', 'chardev', 'blockdev', 'dir', 'fifo'];
const TYPE_CODE = new Map(TYPES.map((t, i) => [t, i]));

/** What an index must belong to: the tar's sha256 (hex) and size. */
export interface IndexedTar {
  sha256: string;
  size: number;
}

function entryBytes(e: TarEntry): number {
  let n = 1 + NUMBERS * 8 + 4 + e.path.length + 4 + e.linkname.length + 4 + 4;
  for (const [k, v] of e.xattrs) n += 8 + k.length + v.length;
  return n + (e.sparse?.length ?? 0) * 16;
}

/** Encodes the entries of `tar` (in archive order) as an index file's bytes. */
export function encodeEntryIndex(entries: readonly TarEntry[], tar: IndexedTar): Buffer {
  let size = HEADER_BYTES + DIGEST_BYTES;
  for (const e of entries) size += entryBytes(e);
  const b = Buffer.alloc(size);
  let at = MAGIC.copy(b, 0);
  at = b.writeUInt32LE(ENTRY_INDEX_VERSION, at);
  at += b.write(tar.sha256, at, 'hex');
  at = b.writeDoubleLE(tar.size, at);
  at = b.writeUInt32LE(entries.length, at);
  const bytes = (s: string | Uint8Array): void => {
    if (typeof s === 'string') {
      at = b.writeUInt32LE(s.length, at);
      at += b.write(s, at, 'latin1');
    } else {
      at = b.writeUInt32LE(s.length, at);
      b.set(s, at);
      at += s.length;
    }
  };
  for (const e of entries) {
    b[at++] = TYPE_CODE.get(e.type) as number;
    for (const v of [e.mode, e.uid, e.gid, e.mtimeSec, e.mtimeNsec, e.size, e.devMajor, e.devMinor, e.dataOffset, e.dataLength]) at = b.writeDoubleLE(v, at);
    bytes(e.path);
    bytes(e.linkname);
    at = b.writeUInt32LE(e.xattrs.size, at);
    for (const [k, v] of e.xattrs) {
      bytes(k);
      bytes(v);
    }
    at = b.writeUInt32LE(e.sparse ? e.sparse.length + 1 : 0, at);
    for (const s of e.sparse ?? []) {
      at = b.writeDoubleLE(s.offset, at);
      at = b.writeDoubleLE(s.length, at);
    }
  }
  createHash('sha256').update(b.subarray(0, at)).digest().copy(b, at);
  return b;
}

/**
 * Decodes an index file's bytes; undefined when they are not a complete,
 * intact index of this version for `tar` (the caller then reads the tar).
 */
export function decodeEntryIndex(b: Buffer, tar: IndexedTar): TarEntry[] | undefined {
  if (b.length < HEADER_BYTES + DIGEST_BYTES || !b.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
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
  at += 4;
  const str = (): string => {
    const n = b.readUInt32LE(at);
    at += 4;
    at += n;
    return b.toString('latin1', at - n, at);
  };
  const entries: TarEntry[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const type = TYPES[b[at++]];
      if (type === undefined) return undefined;
      const num = (): number => {
        at += 8;
        return b.readDoubleLE(at - 8);
      };
      const mode = num(), uid = num(), gid = num(), mtimeSec = num(), mtimeNsec = num(), size = num();
      const devMajor = num(), devMinor = num(), dataOffset = num(), dataLength = num();
      const path = str();
      const linkname = str();
      const xattrs = new Map<string, Uint8Array>();
      for (let n = b.readUInt32LE((at += 4) - 4); n > 0; n--) {
        const k = str();
        const len = b.readUInt32LE(at);
        at += 4 + len;
        xattrs.set(k, new Uint8Array(b.subarray(at - len, at))); // a copy: the file buffer is dropped
      }
      const nSparse = b.readUInt32LE(at);
      at += 4;
      const e: TarEntry = { path, type, mode, uid, gid, mtimeSec, mtimeNsec, size, linkname, devMajor, devMinor, xattrs, dataOffset, dataLength };
      if (nSparse > 0) {
        e.sparse = [];
        for (let s = 1; s < nSparse; s++) e.sparse.push({ offset: num(), length: num() });
      }
      if (at > end) return undefined;
      entries.push(e);
    }
  } catch {
    return undefined; // read past the end: not an index (the checksum makes this unlikely)
  }
  return at === end ? entries : undefined;
}
