/**
 * Extended attributes: name prefixes → name indexes, POSIX ACL conversion
 * to ext4's compact on-disk form, entry hashes, and the two encodings
 * (inside the inode after the extra fields, or in a separate block that
 * identical attribute sets share). Pure: bytes in, bytes out.
 * Spec: Documentation/filesystems/ext4/attributes.rst, fs/ext4/xattr.[ch],
 * fs/ext4/acl.h.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import {
  BLOCK_SIZE,
  EXTRA_ISIZE,
  GOOD_OLD_INODE_SIZE,
  INODE_SIZE,
  XATTR_BLOCK_HEADER_SIZE,
  XATTR_ENTRY_HEADER,
  XATTR_MAGIC,
} from './constants.js';
import { crc32cRaw, crc32cU64 } from './crc32c.js';

/** One attribute ready for encoding: name without its prefix, on-disk value. */
export interface XattrEntry {
  index: number;
  name: Uint8Array;
  value: Uint8Array;
}

/** Name prefix → e_name_index (attributes.rst "Attribute Name Indices"); exact names first. */
const PREFIXES: [string, number][] = [
  ['system.posix_acl_access', 2],
  ['system.posix_acl_default', 3],
  ['user.', 1],
  ['trusted.', 4],
  ['security.', 6],
  ['system.', 7],
];
const INDEX_ACL_ACCESS = 2;
const INDEX_ACL_DEFAULT = 3;

// POSIX ACL formats: VFS xattr (include/uapi/linux/posix_acl_xattr.h) and ext4 disk (fs/ext4/acl.h).
const ACL_XATTR_VERSION = 2;
const ACL_XATTR_HEADER = 4;
const ACL_XATTR_ENTRY = 8;
const EXT4_ACL_VERSION = 1;
const ACL_USER = 0x02;
const ACL_GROUP = 0x08;

/** Converts a VFS-format POSIX ACL value to ext4's disk format (short entries for non-id tags). */
export function aclToDisk(value: Uint8Array, where: string): Uint8Array {
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const n = (value.length - ACL_XATTR_HEADER) / ACL_XATTR_ENTRY;
  if (value.length < ACL_XATTR_HEADER || !Number.isInteger(n) || dv.getUint32(0, true) !== ACL_XATTR_VERSION) {
    throw new Oci2fsError(ErrorCode.TREE_INVALID, `${where}: POSIX ACL xattr is not in the version-2 xattr format; fix or drop the attribute`);
  }
  const out: number[] = [];
  const push = (v: number, bytes: number): void => {
    for (let i = 0; i < bytes; i++) out.push((v >>> (8 * i)) & 0xff);
  };
  push(EXT4_ACL_VERSION, 4);
  for (let i = 0; i < n; i++) {
    const o = ACL_XATTR_HEADER + i * ACL_XATTR_ENTRY;
    const tag = dv.getUint16(o, true);
    push(tag, 2);
    push(dv.getUint16(o + 2, true), 2);
    if (tag === ACL_USER || tag === ACL_GROUP) push(dv.getUint32(o + 4, true), 4);
  }
  return Uint8Array.from(out);
}

/** Splits and converts a tree's xattrs, sorted as ext4 requires for blocks: (index, name length, name). */
export function prepareXattrs(xattrs: Map<string, Uint8Array>, where: string): XattrEntry[] {
  const out: XattrEntry[] = [];
  for (const [full, raw] of xattrs) {
    let index = 0;
    let rest = full;
    for (const [prefix, idx] of PREFIXES) {
      if (prefix.endsWith('.') ? full.startsWith(prefix) : full === prefix) {
        index = idx;
        rest = full.slice(prefix.length);
        break;
      }
    }
    const name = Buffer.from(rest, 'latin1');
    if (name.length > 255) throw new Oci2fsError(ErrorCode.TREE_INVALID, `${where}: xattr name ${JSON.stringify(full)} is too long for ext4`);
    const value = index === INDEX_ACL_ACCESS || index === INDEX_ACL_DEFAULT ? aclToDisk(raw, where) : raw;
    out.push({ index, name, value });
  }
  out.sort((a, b) => a.index - b.index || a.name.length - b.name.length || Buffer.compare(a.name, b.name));
  return out;
}

const pad4 = (n: number): number => (n + 3) & ~3;
const entrySize = (e: XattrEntry): number => pad4(XATTR_ENTRY_HEADER + e.name.length);

/** e_hash of one entry (ext4_xattr_hash_entry: name bytes unsigned, value as LE u32 words). */
export function xattrEntryHash(e: XattrEntry): number {
  let h = 0;
  for (const c of e.name) h = ((h << 5) ^ (h >>> 27) ^ c) >>> 0;
  const words = pad4(e.value.length) / 4;
  for (let w = 0; w < words; w++) {
    let v = 0;
    for (let k = 3; k >= 0; k--) v = (v << 8) | (e.value[w * 4 + k] ?? 0);
    h = ((h << 16) ^ (h >>> 16) ^ (v >>> 0)) >>> 0;
  }
  return h;
}

/** Writes entries at `entStart` and values growing down from `valEnd`; offsets relative to `base`. */
function layout(buf: Uint8Array, entries: XattrEntry[], entStart: number, valEnd: number, base: number): number[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hashes: number[] = [];
  let e = entStart;
  let v = valEnd;
  for (const x of entries) {
    let offs = 0;
    if (x.value.length > 0) {
      v -= pad4(x.value.length);
      buf.set(x.value, v);
      offs = v - base;
    }
    const h = xattrEntryHash(x);
    hashes.push(h);
    buf[e] = x.name.length;
    buf[e + 1] = x.index;
    dv.setUint16(e + 2, offs, true);
    dv.setUint32(e + 4, 0, true); // e_value_inum: no EA inodes
    dv.setUint32(e + 8, x.value.length, true);
    dv.setUint32(e + 12, h, true);
    buf.set(x.name, e + XATTR_ENTRY_HEADER);
    e += entrySize(x);
  }
  return hashes; // the 4 zero bytes after the last entry are already zero
}

/** Bytes an attribute set needs: entries + 4-byte terminator + padded values. */
function needed(entries: XattrEntry[]): number {
  let n = 4;
  for (const x of entries) n += entrySize(x) + pad4(x.value.length);
  return n;
}

/** Start of the in-inode xattr area (after i_extra_isize fields). */
export const INODE_XATTR_OFFSET = GOOD_OLD_INODE_SIZE + EXTRA_ISIZE;

/**
 * The in-inode xattr area (INODE_SIZE - INODE_XATTR_OFFSET bytes: magic,
 * entries, values), or null when the set does not fit there.
 */
export function encodeInodeXattrs(entries: XattrEntry[]): Uint8Array | null {
  const size = INODE_SIZE - INODE_XATTR_OFFSET;
  if (entries.length === 0 || needed(entries) > size - 4) return null;
  const buf = new Uint8Array(size);
  new DataView(buf.buffer).setUint32(0, XATTR_MAGIC, true);
  layout(buf, entries, 4, size, 4); // value offsets count from the first entry
  return buf;
}

/** True when the set fits one xattr block. */
export function fitsXattrBlock(entries: XattrEntry[]): boolean {
  return needed(entries) <= BLOCK_SIZE - XATTR_BLOCK_HEADER_SIZE;
}

/**
 * An xattr block without refcount and checksum (filled by `finishXattrBlock`):
 * header (magic, h_blocks = 1, h_hash), sorted entries, values at the end.
 */
export function encodeXattrBlock(entries: XattrEntry[]): Uint8Array {
  const buf = new Uint8Array(BLOCK_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, XATTR_MAGIC, true);
  dv.setUint32(8, 1, true); // h_blocks
  const hashes = layout(buf, entries, XATTR_BLOCK_HEADER_SIZE, BLOCK_SIZE, 0);
  let h = 0;
  for (const eh of hashes) h = ((h << 16) ^ (h >>> 16) ^ eh) >>> 0; // ext4_xattr_rehash
  dv.setUint32(12, h, true); // h_hash
  return buf;
}

/** Sets h_refcount and h_checksum (crc32c(seed, le64 block number, block with checksum 0)). */
export function finishXattrBlock(block: Uint8Array, refcount: number, blockNr: number, csumSeed: number): void {
  const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
  dv.setUint32(4, refcount, true);
  dv.setUint32(16, 0, true);
  const crc = crc32cRaw(crc32cU64(csumSeed, blockNr), block);
  dv.setUint32(16, crc, true);
}
