/**
 * The xattr table (squashfs-tools-ng format.adoc "Extended Attribute Table",
 * kernel fs/squashfs/xattr.c):
 * - key/value pairs of all inodes in metadata blocks starting at
 *   `xattr_table_start`: key = u16 type (prefix id | 0x100 if the value is
 *   out of line), u16 name size, name without prefix; value = u32 size +
 *   bytes, or for out-of-line values u32 8 + u64 reference to an earlier
 *   value record;
 * - a lookup table of 16-byte entries (u64 reference of the pair list, u32
 *   count, u32 size in bytes) indexed by the inodes' xattr ids;
 * - at `xattr_id_table_start`: u64 xattr_table_start, u32 id count, u32 0,
 *   then the u64 positions of the lookup table's metadata blocks.
 * Identical xattr sets share one id; a value longer than a reference that
 * was already written is stored out of line, pointing at the first copy.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { BlockCompressFn } from '../compressors/index.js';
import { Bytes } from './bytes.js';
import { INVALID_XATTR, XATTR_ID_ENTRY_SIZE, XATTR_ID_TABLE_HEADER_SIZE, XATTR_PREFIXES, XATTR_VALUE_OOL } from './constants.js';
import { MetadataWriter, encodeLookupTable, packRef, writeU64 } from './metadata.js';

/** An out-of-line value is a u64 reference: only worth it for longer values. */
const OOL_MIN_VALUE = 9;

/** Splits "security.capability" into its prefix id and the rest, or null for unsupported namespaces. */
export function splitXattrName(name: string): { type: number; rest: string } | null {
  for (const [prefix, type] of XATTR_PREFIXES) {
    if (name.startsWith(prefix) && name.length > prefix.length) return { type, rest: name.slice(prefix.length) };
  }
  return null;
}

export class XattrTableBuilder {
  private readonly kv: MetadataWriter;
  private readonly sets = new Map<string, number>();
  private readonly values = new Map<string, number>();
  private readonly ids = new Bytes();
  private count = 0;

  /** `skipped` is told about each xattr whose namespace squashfs cannot store. */
  constructor(private readonly compress: BlockCompressFn, private readonly skipped: (name: string) => void) {
    this.kv = new MetadataWriter(compress);
  }

  /** The xattr id for an inode's attributes (INVALID_XATTR when none can be stored). */
  idFor(xattrs: Map<string, Uint8Array>): number {
    if (xattrs.size === 0) return INVALID_XATTR;
    const names = [...xattrs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const pairs: { type: number; rest: string; value: Uint8Array }[] = [];
    for (const name of names) {
      const split = splitXattrName(name);
      if (!split) {
        this.skipped(name);
        continue;
      }
      pairs.push({ ...split, value: xattrs.get(name)! });
    }
    if (pairs.length === 0) return INVALID_XATTR;
    const key = pairs.map((p) => `${p.type}:${p.rest}\0${Buffer.from(p.value).toString('latin1')}`).join('\0\0');
    const known = this.sets.get(key);
    if (known !== undefined) return known;

    const start = this.kv.position();
    let size = 0;
    for (const p of pairs) {
      const vkey = Buffer.from(p.value).toString('latin1');
      const ool = p.value.length >= OOL_MIN_VALUE ? this.values.get(vkey) : undefined;
      const b = new Bytes(16 + p.rest.length);
      b.u16(p.type | (ool !== undefined ? XATTR_VALUE_OOL : 0)).u16(p.rest.length).raw(p.rest);
      this.kv.write(b.bytes());
      size += b.length;
      const v = new Bytes(12 + p.value.length);
      if (ool !== undefined) {
        v.u32(8).u64(ool);
      } else {
        if (p.value.length >= OOL_MIN_VALUE && !this.values.has(vkey)) this.values.set(vkey, packRef(this.kv.position()));
        v.u32(p.value.length).raw(p.value);
      }
      this.kv.write(v.bytes());
      size += v.length;
    }
    const id = this.count++;
    this.ids.u64(packRef(start)).u32(pairs.length).u32(size);
    this.sets.set(key, id);
    return id;
  }

  /** Number of xattr ids handed out. */
  get size(): number {
    return this.count;
  }

  /**
   * Encodes the whole table for absolute position `at`. `tableStart` is what
   * the superblock's xattr_id_table_start must hold.
   */
  encode(at: number): { bytes: Buffer; tableStart: number } {
    const kvBytes = this.kv.finish();
    const header = Buffer.alloc(XATTR_ID_TABLE_HEADER_SIZE);
    writeU64(header, at, 0);
    header.writeUInt32LE(this.count, 8);
    header.writeUInt32LE(0, 12);
    const idsAt = at + kvBytes.length;
    const t = encodeLookupTable(this.ids.bytes(), idsAt, this.compress, header);
    if (this.ids.length !== this.count * XATTR_ID_ENTRY_SIZE) throw new Oci2fsError(ErrorCode.INTERNAL, 'xattr id table size mismatch');
    return { bytes: Buffer.concat([kvBytes, t.bytes]), tableStart: idsAt + t.indexOffset };
  }
}
