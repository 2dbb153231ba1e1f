/**
 * EROFS on-disk constants (Linux fs/erofs/erofs_fs.h) and the composefs
 * image header (libcomposefs lcfs-erofs.h). All integers little-endian.
 * See docs/erofs.md and docs/composefs.md.
 */

/** Block size: we always write 4 KiB blocks (blkszbits = 12). */
export const EROFS_BLKSIZ_BITS = 12;
export const EROFS_BLKSIZ = 1 << EROFS_BLKSIZ_BITS;
/** Inode slot size: nids count 32-byte slots from meta_blkaddr. */
export const EROFS_SLOTSIZE = 32;

/** Superblock: at byte 1024, 128 bytes. */
export const EROFS_SUPER_OFFSET = 1024;
export const EROFS_SUPER_SIZE = 128;
export const EROFS_SUPER_MAGIC_V1 = 0xe0f5e1e2;
/** Superblock field offsets (struct erofs_super_block). */
export const SB_MAGIC = 0;
export const SB_CHECKSUM = 4;
export const SB_FEATURE_COMPAT = 8;
export const SB_BLKSZBITS = 12;
export const SB_ROOT_NID = 14;
export const SB_INOS = 16;
export const SB_BUILD_TIME = 24;
export const SB_BUILD_TIME_NSEC = 32;
export const SB_BLOCKS = 36;
export const SB_META_BLKADDR = 40;
export const SB_XATTR_BLKADDR = 44;
export const SB_UUID = 48;
export const SB_VOLUME_NAME = 64;
export const SB_FEATURE_INCOMPAT = 80;

/** feature_compat: superblock checksum present (crc32c). */
export const EROFS_FEATURE_COMPAT_SB_CHKSUM = 0x1;
/** feature_compat: inodes carry mtimes. */
export const EROFS_FEATURE_COMPAT_MTIME = 0x2;
/** feature_compat: xattr bloom filter in h_name_filter. */
export const EROFS_FEATURE_COMPAT_XATTR_FILTER = 0x4;
/** feature_incompat: chunk-based files exist. */
export const EROFS_FEATURE_INCOMPAT_CHUNKED_FILE = 0x4;

/** Inode formats: i_format bit 0 = version (0 compact, 1 extended), bits 1..3 = data layout. */
export const EROFS_I_VERSION_BIT = 0;
export const EROFS_I_DATALAYOUT_BIT = 1;
export const EROFS_INODE_COMPACT_SIZE = 32;
export const EROFS_INODE_EXTENDED_SIZE = 64;
export const EROFS_INODE_FLAT_PLAIN = 0;
export const EROFS_INODE_FLAT_INLINE = 2;
export const EROFS_INODE_CHUNK_BASED = 4;
/** Chunk format (i_u.c.format): low 5 bits = chunk size bits above the block size. */
export const EROFS_CHUNK_FORMAT_BLKBITS_MASK = 0x1f;
/** Block-map entry of a chunk-based inode (no INDEXES flag): le32 block address. */
export const EROFS_BLOCK_MAP_ENTRY_SIZE = 4;
/** A chunk with no data (reads as zeros). */
export const EROFS_NULL_ADDR = 0xffffffff;

/** Compact inode field offsets (struct erofs_inode_compact). */
export const IC_FORMAT = 0;
export const IC_XATTR_ICOUNT = 2;
export const IC_MODE = 4;
export const IC_NLINK = 6;
export const IC_SIZE = 8;
export const IC_U = 16;
export const IC_INO = 20;
export const IC_UID = 24;
export const IC_GID = 26;
/** Extended inode field offsets (struct erofs_inode_extended). */
export const IE_FORMAT = 0;
export const IE_XATTR_ICOUNT = 2;
export const IE_MODE = 4;
export const IE_SIZE = 8;
export const IE_U = 16;
export const IE_INO = 20;
export const IE_UID = 24;
export const IE_GID = 28;
export const IE_MTIME = 32;
export const IE_MTIME_NSEC = 40;
export const IE_NLINK = 44;

/** Directory entry (struct erofs_dirent): le64 nid, le16 nameoff, u8 file_type, u8 reserved. */
export const EROFS_DIRENT_SIZE = 12;
export const EROFS_FT_UNKNOWN = 0;
export const EROFS_FT_REG_FILE = 1;
export const EROFS_FT_DIR = 2;
export const EROFS_FT_CHRDEV = 3;
export const EROFS_FT_BLKDEV = 4;
export const EROFS_FT_FIFO = 5;
export const EROFS_FT_SOCK = 6;
export const EROFS_FT_SYMLINK = 7;

/** In-inode xattr header: le32 h_name_filter, u8 h_shared_count, 7 reserved bytes. */
export const EROFS_XATTR_IBODY_HEADER_SIZE = 12;
/** Xattr entry header: u8 e_name_len, u8 e_name_index, le16 e_value_size. */
export const EROFS_XATTR_ENTRY_SIZE = 4;
/** Name index values (EROFS_XATTR_INDEX_*). */
export const EROFS_XATTR_INDEX_USER = 1;
export const EROFS_XATTR_INDEX_POSIX_ACL_ACCESS = 2;
export const EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT = 3;
export const EROFS_XATTR_INDEX_TRUSTED = 4;
export const EROFS_XATTR_INDEX_SECURITY = 6;
/** Prefixes stripped for each index, tried in this order (as libcomposefs does). */
export const EROFS_XATTR_PREFIXES: readonly [string, number][] = [
  ['user.', EROFS_XATTR_INDEX_USER],
  ['system.posix_acl_access', EROFS_XATTR_INDEX_POSIX_ACL_ACCESS],
  ['system.posix_acl_default', EROFS_XATTR_INDEX_POSIX_ACL_DEFAULT],
  ['trusted.', EROFS_XATTR_INDEX_TRUSTED],
  ['security.', EROFS_XATTR_INDEX_SECURITY],
];
/** An inode may reference at most this many shared xattrs (EROFS_XATTR_LONG_PREFIX: h_shared_count < 0x80). */
export const EROFS_XATTR_MAX_SHARED = 0x80;
/** Xattr name bloom filter: 32 bits, xxh32 seeded with this + name index. */
export const EROFS_XATTR_FILTER_BITS = 32;
export const EROFS_XATTR_FILTER_SEED = 0x25bbe08f;
export const EROFS_XATTR_FILTER_DEFAULT = 0xffffffff;

/** composefs image header (struct lcfs_erofs_header_s) at byte 0, 32 bytes. */
export const LCFS_EROFS_MAGIC = 0xd078629a;
export const LCFS_EROFS_VERSION = 1;
export const LCFS_EROFS_FLAGS_HAS_ACL = 1 << 0;
export const LCFS_HEADER_SIZE = 32;
export const LCFS_HDR_MAGIC = 0;
export const LCFS_HDR_VERSION = 4;
export const LCFS_HDR_FLAGS = 8;
export const LCFS_HDR_COMPOSEFS_VERSION = 12;

/** composefs: at most 1024 null chunks per external file, i.e. one 4 KiB block of indexes. */
export const LCFS_MAX_NONINLINE_CHUNKS = 1024;
/** Directories and inline file tails larger than half a block go to a full block instead. */
export const EROFS_MAX_INLINE_TAIL = EROFS_BLKSIZ / 2;
