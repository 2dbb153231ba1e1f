/** struct squashfs_super_block (kernel squashfs_fs.h), 96 bytes at offset 0. */
import { writeU64 } from './metadata.js';
import { SQUASHFS_MAGIC, SQUASHFS_MAJOR, SQUASHFS_MINOR, SUPERBLOCK_SIZE } from './constants.js';

export interface SuperblockFields {
  inodes: number;
  mkfsTime: number;
  blockSize: number;
  fragments: number;
  compressor: number;
  flags: number;
  ids: number;
  /** Packed reference of the root inode. */
  rootInode: number;
  bytesUsed: number;
  idTableStart: number;
  /** null = no xattr table (SQUASHFS_INVALID_BLK). */
  xattrIdTableStart: number | null;
  inodeTableStart: number;
  directoryTableStart: number;
  fragmentTableStart: number;
  /** null = no export table. */
  lookupTableStart: number | null;
}

function writeOptionalU64(b: Buffer, v: number | null, at: number): void {
  if (v === null) b.fill(0xff, at, at + 8);
  else writeU64(b, v, at);
}

/** Encodes the superblock. */
export function encodeSuperblock(f: SuperblockFields): Buffer {
  const b = Buffer.alloc(SUPERBLOCK_SIZE);
  b.writeUInt32LE(SQUASHFS_MAGIC, 0);
  b.writeUInt32LE(f.inodes, 4);
  b.writeUInt32LE(f.mkfsTime >>> 0, 8);
  b.writeUInt32LE(f.blockSize, 12);
  b.writeUInt32LE(f.fragments, 16);
  b.writeUInt16LE(f.compressor, 20);
  b.writeUInt16LE(Math.log2(f.blockSize), 22);
  b.writeUInt16LE(f.flags, 24);
  b.writeUInt16LE(f.ids, 26);
  b.writeUInt16LE(SQUASHFS_MAJOR, 28);
  b.writeUInt16LE(SQUASHFS_MINOR, 30);
  writeU64(b, f.rootInode, 32);
  writeU64(b, f.bytesUsed, 40);
  writeU64(b, f.idTableStart, 48);
  writeOptionalU64(b, f.xattrIdTableStart, 56);
  writeU64(b, f.inodeTableStart, 64);
  writeU64(b, f.directoryTableStart, 72);
  writeU64(b, f.fragmentTableStart, 80);
  writeOptionalU64(b, f.lookupTableStart, 88);
  return b;
}
