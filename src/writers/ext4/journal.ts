/**
 * Internal journal (inode 8): an empty jbd2 log whose first block is the
 * journal superblock (v2, big-endian, Documentation/filesystems/ext4/
 * journal.rst and include/linux/jbd2.h). s_start = 0 means "clean, nothing
 * to replay". Pure.
 */
import { BLOCK_SIZE } from './constants.js';
import { crc32cRaw } from './crc32c.js';

/** jbd2 block header magic. */
const JBD2_MAGIC = 0xc03b3998;
/** h_blocktype of a v2 journal superblock. */
const JBD2_SUPERBLOCK_V2 = 4;
/** s_feature_incompat bits: 64-bit block numbers, checksum v3. */
const JBD2_INCOMPAT_64BIT = 0x2;
const JBD2_INCOMPAT_CSUM_V3 = 0x10;
/** s_checksum_type: crc32c. */
const JBD2_CRC32C_CHKSUM = 4;
/** The journal superblock structure is 1024 bytes; s_checksum sits at 0xFC. */
const JSB_SIZE = 1024;
const JSB_CHECKSUM = 0xfc;
/** Smallest journal the kernel accepts (JBD2_MIN_JOURNAL_BLOCKS). */
export const JOURNAL_MIN_BLOCKS = 1024;

/** Journal length for a filesystem of `blocks` blocks (mke2fs's default table, capped at 128 MiB). */
export function journalBlocksFor(blocks: number): number {
  if (blocks < 32768) return JOURNAL_MIN_BLOCKS;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 1024 * 1024) return 16384;
  return 32768;
}

/** The journal's first block: a v2 superblock for an empty log of `blocks` blocks. */
export function journalSuperblock(blocks: number, uuid: Uint8Array): Uint8Array {
  const b = new Uint8Array(BLOCK_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0x00, JBD2_MAGIC); // big-endian throughout
  dv.setUint32(0x04, JBD2_SUPERBLOCK_V2);
  dv.setUint32(0x08, 0); // h_sequence
  dv.setUint32(0x0c, BLOCK_SIZE); // s_blocksize
  dv.setUint32(0x10, blocks); // s_maxlen
  dv.setUint32(0x14, 1); // s_first: log starts after this block
  dv.setUint32(0x18, 1); // s_sequence: first expected commit id
  dv.setUint32(0x1c, 0); // s_start: 0 = journal is clean
  dv.setUint32(0x28, JBD2_INCOMPAT_64BIT | JBD2_INCOMPAT_CSUM_V3);
  b.set(uuid.subarray(0, 16), 0x30); // s_uuid: the filesystem's (internal journal)
  dv.setUint32(0x40, 1); // s_nr_users
  b[0x50] = JBD2_CRC32C_CHKSUM;
  dv.setUint32(JSB_CHECKSUM, crc32cRaw(0xffffffff, b, 0, JSB_SIZE));
  return b;
}
