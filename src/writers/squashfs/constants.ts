/**
 * On-disk constants of the squashfs 4.0 format. Names and values follow the
 * Linux kernel's fs/squashfs/squashfs_fs.h and the squashfs-tools-ng format
 * description (doc/format.adoc). All integers on disk are little-endian.
 */

/** Superblock magic "hsqs" read as a little-endian u32 (squashfs_fs.h SQUASHFS_MAGIC). */
export const SQUASHFS_MAGIC = 0x73717368;
/** Format version written in s_major / s_minor. */
export const SQUASHFS_MAJOR = 4;
export const SQUASHFS_MINOR = 0;
/** Size of struct squashfs_super_block. */
export const SUPERBLOCK_SIZE = 96;

/** Uncompressed size of every metadata block but the last of a table (SQUASHFS_METADATA_SIZE). */
export const METADATA_SIZE = 8192;
/** Bit in a metadata block's u16 length header meaning "stored uncompressed" (SQUASHFS_COMPRESSED_BIT). */
export const METADATA_UNCOMPRESSED = 0x8000;
/** Bit in a data/fragment block size meaning "stored uncompressed" (SQUASHFS_COMPRESSED_BIT_BLOCK). */
export const DATA_UNCOMPRESSED = 1 << 24;

/** Smallest / largest block size (SQUASHFS_FILE_SIZE limits: 4 KiB .. 1 MiB). */
export const MIN_BLOCK_SIZE = 4096;
export const MAX_BLOCK_SIZE = 1 << 20;
/** mksquashfs' default block size. */
export const DEFAULT_BLOCK_SIZE = 128 * 1024;

/** "No such table" / "no fragment" / "no xattrs" sentinels (SQUASHFS_INVALID_BLK, _FRAG, _XATTR). */
export const INVALID_TABLE = 0xffffffffffffffffn;
export const INVALID_FRAGMENT = 0xffffffff;
export const INVALID_XATTR = 0xffffffff;

/** Images are padded to a multiple of this (mksquashfs' default -pad of 4K). */
export const IMAGE_PAD = 4096;

/* Compressor ids live with the compressors (src/writers/compressors/index.ts). */

/** Superblock flags (bit numbers in squashfs_fs.h; squashfs-tools adds NOX/NO_XATTR/NOID). */
export const FLAG = {
  /** SQUASHFS_NOI: inodes are stored uncompressed. */
  UNCOMPRESSED_INODES: 1 << 0,
  /** SQUASHFS_NOD: data blocks are stored uncompressed. */
  UNCOMPRESSED_DATA: 1 << 1,
  /** SQUASHFS_NOF: fragment blocks are stored uncompressed. */
  UNCOMPRESSED_FRAGMENTS: 1 << 3,
  /** SQUASHFS_NO_FRAG: no fragments are used. */
  NO_FRAGMENTS: 1 << 4,
  /** SQUASHFS_ALWAYS_FRAG: tails of files larger than a block are packed into fragments too. */
  ALWAYS_FRAGMENTS: 1 << 5,
  /** SQUASHFS_DUPLICATE: duplicate files are stored once. */
  DUPLICATES: 1 << 6,
  /** SQUASHFS_EXPORT: an export (inode lookup) table is present. */
  EXPORTABLE: 1 << 7,
  /** SQUASHFS_NOX: xattrs are stored uncompressed. */
  UNCOMPRESSED_XATTRS: 1 << 8,
  /** SQUASHFS_NO_XATTR: xattrs were not stored. */
  NO_XATTRS: 1 << 9,
  /** SQUASHFS_COMP_OPT: a compressor options block follows the superblock. */
  COMPRESSOR_OPTIONS: 1 << 10,
  /** SQUASHFS_NOID: the id table is stored uncompressed. */
  UNCOMPRESSED_IDS: 1 << 11,
} as const;

/** Inode types (squashfs_fs.h SQUASHFS_DIR_TYPE ... SQUASHFS_LSOCKET_TYPE). */
export const INODE_TYPE = {
  dir: 1,
  file: 2,
  symlink: 3,
  blockdev: 4,
  chardev: 5,
  fifo: 6,
  socket: 7,
  ldir: 8,
  lfile: 9,
  lsymlink: 10,
  lblockdev: 11,
  lchardev: 12,
  lfifo: 13,
  lsocket: 14,
} as const;

/** Most entries after one directory header (SQUASHFS_DIR_COUNT). */
export const DIR_MAX_ENTRIES_PER_HEADER = 256;
/** Inode number deltas in a directory entry are signed 16-bit. */
export const DIR_DELTA_MIN = -32768;
export const DIR_DELTA_MAX = 32767;
/** struct squashfs_dir_header and struct squashfs_dir_entry (without name) sizes. */
export const DIR_HEADER_SIZE = 12;
export const DIR_ENTRY_SIZE = 8;
/** Directory inode file_size counts 3 bytes more than the listing (for "." and ".."). */
export const DIR_SIZE_BIAS = 3;
/** A basic directory inode has a u16 file_size. */
export const BASIC_DIR_MAX_SIZE = 0xffff;

/** Sizes of the on-disk lookup table entries. */
export const FRAGMENT_ENTRY_SIZE = 16;
export const ID_ENTRY_SIZE = 4;
export const EXPORT_ENTRY_SIZE = 8;
export const XATTR_ID_ENTRY_SIZE = 16;
/** struct squashfs_xattr_id_table: u64 xattr_table_start, u32 xattr_ids, u32 unused. */
export const XATTR_ID_TABLE_HEADER_SIZE = 16;
/** The id table holds at most this many distinct uids/gids (no_ids is a u16; indices are u16). */
export const MAX_IDS = 0xffff;

/** Xattr name prefix ids (squashfs_fs.h SQUASHFS_XATTR_USER/TRUSTED/SECURITY). */
export const XATTR_PREFIXES: readonly (readonly [string, number])[] = [
  ['user.', 0],
  ['trusted.', 1],
  ['security.', 2],
];
/** Flag or'ed into an xattr key's type when its value is stored out of line (SQUASHFS_XATTR_VALUE_OOL). */
export const XATTR_VALUE_OOL = 0x100;

/** Largest mtime an inode can hold (u32 seconds). */
export const MAX_MTIME = 0xffffffff;
