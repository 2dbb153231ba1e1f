/**
 * Inode records (Documentation/filesystems/ext4/inodes.rst): 128 base bytes,
 * 32 bytes of extra fields (nanosecond timestamps with 2 epoch bits, crtime,
 * checksum high half), then the in-inode xattr area. Pure.
 */
import { EXTRA_ISIZE, INODE_SIZE, I_BLOCK_SIZE, TIME_MAX, TIME_MIN } from './constants.js';
import { crc32cRaw, crc32cU32 } from './crc32c.js';
import { INODE_XATTR_OFFSET } from './xattr.js';

// Field offsets (struct ext4_inode).
const I_MODE = 0x00;
const I_UID = 0x02;
const I_SIZE_LO = 0x04;
const I_ATIME = 0x08;
const I_CTIME = 0x0c;
const I_MTIME = 0x10;
const I_GID = 0x18;
const I_LINKS = 0x1a;
const I_BLOCKS_LO = 0x1c;
const I_FLAGS = 0x20;
const I_BLOCK = 0x28;
const I_FILE_ACL_LO = 0x68;
const I_SIZE_HIGH = 0x6c;
const I_BLOCKS_HIGH = 0x74;
const I_FILE_ACL_HIGH = 0x76;
const I_UID_HIGH = 0x78;
const I_GID_HIGH = 0x7a;
const I_CHECKSUM_LO = 0x7c;
const I_EXTRA_ISIZE = 0x80;
const I_CHECKSUM_HI = 0x82;
const I_CTIME_EXTRA = 0x84;
const I_MTIME_EXTRA = 0x88;
const I_ATIME_EXTRA = 0x8c;
const I_CRTIME = 0x90;
const I_CRTIME_EXTRA = 0x94;

const TWO32 = 0x1_0000_0000;

/** A timestamp: whole seconds (may be negative) + nanoseconds. */
export interface Timestamp {
  sec: number;
  nsec: number;
}

/**
 * Splits a timestamp into the 32-bit seconds field and the "extra" field:
 * bits 0-1 extend the signed 32-bit seconds by multiples of 2^32 (so
 * 1901..2446 is representable; pre-1970 keeps epoch 0), bits 2-31 hold
 * nanoseconds. Values outside that range are clamped.
 */
export function encodeTime(t: Timestamp): { lo: number; extra: number } {
  const sec = Math.min(TIME_MAX, Math.max(TIME_MIN, t.sec));
  const lo = ((sec % TWO32) + TWO32) % TWO32; // two's complement low 32 bits
  const signedLo = lo >= 0x8000_0000 ? lo - TWO32 : lo;
  const epoch = (sec - signedLo) / TWO32;
  return { lo, extra: ((t.nsec << 2) | (epoch & 3)) >>> 0 };
}

/** Everything an inode record holds. */
export interface InodeFields {
  /** Full st_mode (type | permissions). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  /** i_blocks in 512-byte units (data + tree + xattr blocks). */
  sectors: number;
  flags: number;
  /** The 60-byte i_block area (extent root, fast symlink target or device numbers). */
  iBlock: Uint8Array;
  /** Block number of the xattr block, 0 for none. */
  xattrBlock: number;
  time: Timestamp;
  /** INODE_SIZE - INODE_XATTR_OFFSET bytes of in-inode xattrs, or null. */
  xattrArea: Uint8Array | null;
}

/** Per-inode checksum seed: crc32c(fs seed, le32 inode number, le32 generation). Generation is 0. */
export function inodeSeed(fsSeed: number, ino: number): number {
  return crc32cU32(crc32cU32(fsSeed, ino), 0);
}

/** Encodes one inode record with its checksum into `out` at `off`. */
export function encodeInode(f: InodeFields, ino: number, fsSeed: number, out: Uint8Array, off: number): void {
  const buf = out.subarray(off, off + INODE_SIZE);
  buf.fill(0);
  const dv = new DataView(buf.buffer, buf.byteOffset, INODE_SIZE);
  dv.setUint16(I_MODE, f.mode, true);
  dv.setUint16(I_UID, f.uid & 0xffff, true);
  dv.setUint16(I_UID_HIGH, f.uid >>> 16, true);
  dv.setUint16(I_GID, f.gid & 0xffff, true);
  dv.setUint16(I_GID_HIGH, f.gid >>> 16, true);
  dv.setUint32(I_SIZE_LO, f.size % TWO32, true);
  dv.setUint32(I_SIZE_HIGH, Math.floor(f.size / TWO32), true);
  dv.setUint16(I_LINKS, f.links, true);
  dv.setUint32(I_BLOCKS_LO, f.sectors % TWO32, true);
  dv.setUint16(I_BLOCKS_HIGH, Math.floor(f.sectors / TWO32), true);
  dv.setUint32(I_FLAGS, f.flags, true);
  buf.set(f.iBlock.subarray(0, I_BLOCK_SIZE), I_BLOCK);
  dv.setUint32(I_FILE_ACL_LO, f.xattrBlock % TWO32, true);
  dv.setUint16(I_FILE_ACL_HIGH, Math.floor(f.xattrBlock / TWO32), true);
  const { lo, extra } = encodeTime(f.time);
  for (const o of [I_ATIME, I_CTIME, I_MTIME, I_CRTIME]) dv.setUint32(o, lo, true);
  for (const o of [I_ATIME_EXTRA, I_CTIME_EXTRA, I_MTIME_EXTRA, I_CRTIME_EXTRA]) dv.setUint32(o, extra, true);
  dv.setUint16(I_EXTRA_ISIZE, EXTRA_ISIZE, true);
  if (f.xattrArea) buf.set(f.xattrArea, INODE_XATTR_OFFSET);
  sealInode(buf, ino, fsSeed);
}

/** Writes the reserved-inode form mke2fs uses: all zero but i_extra_isize, with a checksum. */
export function encodeReservedInode(ino: number, fsSeed: number, out: Uint8Array, off: number): void {
  const buf = out.subarray(off, off + INODE_SIZE);
  buf.fill(0);
  new DataView(buf.buffer, buf.byteOffset, INODE_SIZE).setUint16(I_EXTRA_ISIZE, EXTRA_ISIZE, true);
  sealInode(buf, ino, fsSeed);
}

/** Computes the inode checksum over the whole record with both checksum halves zeroed. */
function sealInode(buf: Uint8Array, ino: number, fsSeed: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, INODE_SIZE);
  dv.setUint16(I_CHECKSUM_LO, 0, true);
  dv.setUint16(I_CHECKSUM_HI, 0, true);
  const crc = crc32cRaw(inodeSeed(fsSeed, ino), buf, 0, INODE_SIZE);
  dv.setUint16(I_CHECKSUM_LO, crc & 0xffff, true);
  dv.setUint16(I_CHECKSUM_HI, crc >>> 16, true);
}
