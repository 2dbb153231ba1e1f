/**
 * Superblock and group descriptor encoding
 * (Documentation/filesystems/ext4/super.rst, group_descr.rst,
 * checksums.rst). Pure.
 */
import {
  BLOCKS_PER_GROUP,
  CHECKSUM_TYPE_CRC32C,
  COMPAT_DIR_INDEX,
  COMPAT_EXT_ATTR,
  COMPAT_HAS_JOURNAL,
  DEFM_XATTR_USER_ACL,
  DESC_SIZE,
  DX_HASH_HALF_MD4,
  DYNAMIC_REV,
  ERRORS_CONTINUE,
  EXT4_SUPER_MAGIC,
  EXTRA_ISIZE,
  FIRST_INO,
  FLAGS_UNSIGNED_HASH,
  INCOMPAT_64BIT,
  INCOMPAT_EXTENTS,
  INCOMPAT_FILETYPE,
  INCOMPAT_FLEX_BG,
  INODE_SIZE,
  JNL_BACKUP_BLOCKS,
  JOURNAL_INO,
  LOG_BLOCK_SIZE_MINUS_10,
  LOG_GROUPS_PER_FLEX,
  LOST_FOUND_INO,
  MAX_MNT_COUNT_DISABLED,
  RO_COMPAT_DIR_NLINK,
  RO_COMPAT_EXTRA_ISIZE,
  RO_COMPAT_HUGE_FILE,
  RO_COMPAT_LARGE_FILE,
  RO_COMPAT_METADATA_CSUM,
  RO_COMPAT_SPARSE_SUPER,
  STATE_VALID,
  SUPERBLOCK_SIZE,
} from './constants.js';
import { crc32cRaw, crc32cU32 } from './crc32c.js';

const TWO32 = 0x1_0000_0000;
/** Offset of s_checksum (last 4 bytes of the superblock). */
const S_CHECKSUM = 0x3fc;
/** Offset of bg_checksum in a group descriptor. */
const BG_CHECKSUM = 0x1e;

/** Everything the superblock records that is not a fixed choice. */
export interface SuperFields {
  inodesCount: number;
  blocksCount: number;
  freeBlocks: number;
  freeInodes: number;
  inodesPerGroup: number;
  /** Seconds for s_wtime / s_mkfs_time / s_lastcheck. */
  time: number;
  uuid: Uint8Array;
  label: Uint8Array;
  hashSeed: readonly number[];
  /** When set, the journal inode's i_block and size (s_jnl_blocks backup). */
  journal: { iBlock: Uint8Array; size: number } | null;
}

/** Encodes the superblock for group `groupNr` (s_block_group_nr differs per copy). */
export function encodeSuperblock(f: SuperFields, groupNr: number): Uint8Array {
  const b = new Uint8Array(SUPERBLOCK_SIZE);
  const dv = new DataView(b.buffer);
  const u32 = (o: number, v: number): void => dv.setUint32(o, v >>> 0, true);
  const u16 = (o: number, v: number): void => dv.setUint16(o, v, true);
  const time = Math.max(0, f.time);
  u32(0x00, f.inodesCount);
  u32(0x04, f.blocksCount % TWO32);
  u32(0x08, 0); // s_r_blocks_count_lo: no root-reserved blocks
  u32(0x0c, f.freeBlocks % TWO32);
  u32(0x10, f.freeInodes);
  u32(0x14, 0); // s_first_data_block: 0 with 4 KiB blocks
  u32(0x18, LOG_BLOCK_SIZE_MINUS_10);
  u32(0x1c, LOG_BLOCK_SIZE_MINUS_10); // s_log_cluster_size (no bigalloc)
  u32(0x20, BLOCKS_PER_GROUP);
  u32(0x24, BLOCKS_PER_GROUP); // s_clusters_per_group
  u32(0x28, f.inodesPerGroup);
  u32(0x2c, 0); // s_mtime: never mounted
  u32(0x30, 0); // s_wtime: 0, so e2fsck never sees a write time in its future (tree times may be)
  u16(0x34, 0); // s_mnt_count
  u16(0x36, MAX_MNT_COUNT_DISABLED);
  u16(0x38, EXT4_SUPER_MAGIC);
  u16(0x3a, STATE_VALID);
  u16(0x3c, ERRORS_CONTINUE);
  u32(0x40, time % TWO32); // s_lastcheck
  u32(0x48, 0); // s_creator_os: Linux
  u32(0x4c, DYNAMIC_REV);
  u32(0x54, FIRST_INO);
  u16(0x58, INODE_SIZE);
  u16(0x5a, groupNr);
  u32(0x5c, COMPAT_EXT_ATTR | COMPAT_DIR_INDEX | (f.journal ? COMPAT_HAS_JOURNAL : 0));
  u32(0x60, INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG);
  u32(
    0x64,
    RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_HUGE_FILE | RO_COMPAT_DIR_NLINK | RO_COMPAT_EXTRA_ISIZE | RO_COMPAT_METADATA_CSUM,
  );
  b.set(f.uuid.subarray(0, 16), 0x68);
  b.set(f.label.subarray(0, 16), 0x78);
  f.hashSeed.forEach((w, i) => u32(0xec + 4 * i, w));
  b[0xfc] = DX_HASH_HALF_MD4;
  u16(0xfe, DESC_SIZE);
  u32(0x100, DEFM_XATTR_USER_ACL);
  u32(0x108, time % TWO32); // s_mkfs_time
  if (f.journal) {
    u32(0xe0, JOURNAL_INO);
    b.set(f.journal.iBlock.subarray(0, 60), 0x10c); // s_jnl_blocks[0..14]
    u32(0x10c + 15 * 4, Math.floor(f.journal.size / TWO32));
    u32(0x10c + 16 * 4, f.journal.size % TWO32);
    b[0xfd] = JNL_BACKUP_BLOCKS;
  }
  u32(0x150, Math.floor(f.blocksCount / TWO32));
  u32(0x158, Math.floor(f.freeBlocks / TWO32));
  u16(0x15c, EXTRA_ISIZE); // s_min_extra_isize
  u16(0x15e, EXTRA_ISIZE); // s_want_extra_isize
  u32(0x160, FLAGS_UNSIGNED_HASH);
  b[0x174] = LOG_GROUPS_PER_FLEX;
  b[0x175] = CHECKSUM_TYPE_CRC32C;
  u32(0x268, LOST_FOUND_INO); // s_lpf_ino
  b[0x276] = Math.floor(time / TWO32); // s_mkfs_time_hi
  b[0x277] = Math.floor(time / TWO32); // s_lastcheck_hi
  u32(S_CHECKSUM, crc32cRaw(0xffffffff, b, 0, S_CHECKSUM));
  return b;
}

/** Per-group counters and locations for a descriptor. */
export interface GroupFields {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  flags: number;
  itableUnused: number;
  blockBitmapCsum: number;
  inodeBitmapCsum: number;
}

/** Encodes one 64-byte descriptor with its checksum into `out` at `off`. */
export function encodeGroupDesc(g: GroupFields, groupNr: number, fsSeed: number, out: Uint8Array, off: number): void {
  const d = out.subarray(off, off + DESC_SIZE);
  const dv = new DataView(d.buffer, d.byteOffset, DESC_SIZE);
  const lo = (v: number): number => v % TWO32;
  const hi = (v: number): number => Math.floor(v / TWO32);
  dv.setUint32(0x00, lo(g.blockBitmap), true);
  dv.setUint32(0x04, lo(g.inodeBitmap), true);
  dv.setUint32(0x08, lo(g.inodeTable), true);
  dv.setUint16(0x0c, g.freeBlocks & 0xffff, true);
  dv.setUint16(0x0e, g.freeInodes & 0xffff, true);
  dv.setUint16(0x10, g.usedDirs & 0xffff, true);
  dv.setUint16(0x12, g.flags, true);
  dv.setUint16(0x18, g.blockBitmapCsum & 0xffff, true);
  dv.setUint16(0x1a, g.inodeBitmapCsum & 0xffff, true);
  dv.setUint16(0x1c, g.itableUnused & 0xffff, true);
  dv.setUint32(0x20, hi(g.blockBitmap), true);
  dv.setUint32(0x24, hi(g.inodeBitmap), true);
  dv.setUint32(0x28, hi(g.inodeTable), true);
  dv.setUint16(0x2c, g.freeBlocks >>> 16, true);
  dv.setUint16(0x2e, g.freeInodes >>> 16, true);
  dv.setUint16(0x30, g.usedDirs >>> 16, true);
  dv.setUint16(0x32, g.itableUnused >>> 16, true);
  dv.setUint16(0x38, g.blockBitmapCsum >>> 16, true);
  dv.setUint16(0x3a, g.inodeBitmapCsum >>> 16, true);
  // checksum: crc32c(fs seed, le32 group, descriptor with bg_checksum = 0), low 16 bits
  dv.setUint16(BG_CHECKSUM, 0, true);
  const crc = crc32cRaw(crc32cU32(fsSeed, groupNr), d, 0, DESC_SIZE);
  dv.setUint16(BG_CHECKSUM, crc & 0xffff, true);
}

/** Bitmap checksums: crc32c(fs seed, bitmap bytes) — 4096 bytes of block bitmap, ipg/8 of inode bitmap. */
export function bitmapCsum(fsSeed: number, bitmap: Uint8Array, bytes: number): number {
  return crc32cRaw(fsSeed, bitmap, 0, bytes);
}

