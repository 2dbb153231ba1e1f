/**
 * ext4 on-disk constants. Sources: Linux Documentation/filesystems/ext4/
 * (super.rst, group_descr.rst, inodes.rst, ifork.rst, directory.rst,
 * attributes.rst, checksums.rst) and fs/ext4/ext4.h, e2fsprogs
 * lib/ext2fs/ext2_fs.h. All multi-byte fields are little-endian.
 */

/** We always use 4 KiB blocks (s_log_block_size = 2). */
export const BLOCK_SIZE = 4096;
export const LOG_BLOCK_SIZE_MINUS_10 = 2;
/** Blocks per group: one bitmap block covers 8 * BLOCK_SIZE blocks. */
export const BLOCKS_PER_GROUP = BLOCK_SIZE * 8;
/** Inode record size (s_inode_size); 128 base bytes + extra fields + in-inode xattrs. */
export const INODE_SIZE = 256;
export const INODES_PER_BLOCK = BLOCK_SIZE / INODE_SIZE;
/** Base (ext2 "good old") inode size. */
export const GOOD_OLD_INODE_SIZE = 128;
/** i_extra_isize: extra fields up to and including i_projid (ext4.h struct ext4_inode). */
export const EXTRA_ISIZE = 32;
/** Group descriptor size with the 64bit feature (s_desc_size). */
export const DESC_SIZE = 64;
/** Superblock lives at byte 1024, is 1024 bytes long. */
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;

export const EXT4_SUPER_MAGIC = 0xef53;
/** s_state: cleanly unmounted. */
export const STATE_VALID = 1;
/** s_errors: continue. */
export const ERRORS_CONTINUE = 1;
/** s_rev_level: dynamic inode sizes. */
export const DYNAMIC_REV = 1;
/** s_first_ino: first non-reserved inode. */
export const FIRST_INO = 11;
export const ROOT_INO = 2;
export const JOURNAL_INO = 8;
export const LOST_FOUND_INO = 11;
/** s_checksum_type: crc32c. */
export const CHECKSUM_TYPE_CRC32C = 1;
/** s_def_hash_version / dx_root hash_version: half MD4. */
export const DX_HASH_HALF_MD4 = 1;
/** s_flags: directory hashes treat name bytes as unsigned char. */
export const FLAGS_UNSIGNED_HASH = 0x2;
/** s_default_mount_opts: EXT4_DEFM_XATTR_USER | EXT4_DEFM_ACL. */
export const DEFM_XATTR_USER_ACL = 0x0004 | 0x0008;
/** s_log_groups_per_flex as mke2fs uses by default (16 groups per flex group). */
export const LOG_GROUPS_PER_FLEX = 4;
/** s_max_mnt_count: -1 disables mount-count checking. */
export const MAX_MNT_COUNT_DISABLED = 0xffff;
/** s_jnl_backup_type: s_jnl_blocks holds a copy of the journal inode's i_block and size. */
export const JNL_BACKUP_BLOCKS = 1;

// Feature flags (super.rst "feature_compat" etc.).
export const COMPAT_HAS_JOURNAL = 0x4;
export const COMPAT_EXT_ATTR = 0x8;
export const COMPAT_DIR_INDEX = 0x20;
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_EXTENTS = 0x40;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_FLEX_BG = 0x200;
export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_LARGE_FILE = 0x2;
export const RO_COMPAT_HUGE_FILE = 0x8;
export const RO_COMPAT_DIR_NLINK = 0x20;
export const RO_COMPAT_EXTRA_ISIZE = 0x40;
export const RO_COMPAT_METADATA_CSUM = 0x400;

// Block group flags (group_descr.rst bg_flags).
export const BG_INODE_ZEROED = 0x4;

// Inode flags (inodes.rst i_flags).
export const INODE_FL_INDEX = 0x1000;
export const INODE_FL_EXTENTS = 0x80000;

/** Links count cap (EXT4_LINK_MAX); directories above it store 1 (dir_nlink). */
export const LINK_MAX = 65000;

// Extent tree (ifork.rst).
export const EXTENT_MAGIC = 0xf30a;
export const EXTENT_HEADER_SIZE = 12;
export const EXTENT_ENTRY_SIZE = 12;
/** Longest initialized extent (ee_len ≤ 32768; higher values mean "unwritten"). */
export const EXTENT_MAX_LEN = 32768;
/** Entries that fit in i_block (60 bytes) after the header. */
export const EXTENTS_IN_INODE = 4;
/** Entries that fit in a tree block, leaving 4 bytes for struct ext4_extent_tail. */
export const EXTENTS_PER_BLOCK = (BLOCK_SIZE - EXTENT_HEADER_SIZE - 4) / EXTENT_ENTRY_SIZE;
/** i_block: 15 u32 = 60 bytes. */
export const I_BLOCK_SIZE = 60;

// Directories (directory.rst).
export const FT_REG = 1;
export const FT_DIR = 2;
export const FT_CHRDEV = 3;
export const FT_BLKDEV = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;
/** struct ext4_dir_entry_tail: fake entry at the end of each leaf block. */
export const DIRENT_TAIL_SIZE = 12;
export const DIRENT_TAIL_FT = 0xde;
/** ext4_dir_entry_2 header: inode u32, rec_len u16, name_len u8, file_type u8. */
export const DIRENT_HEADER = 8;
/** struct dx_tail: dt_reserved u32, dt_checksum u32. */
export const DX_TAIL_SIZE = 8;
/** Offset of dx_root_info in the htree root block (after fake "." and ".."). */
export const DX_ROOT_INFO_OFFSET = 0x18;
/** Offset of the count/limit header in the root block. */
export const DX_ROOT_COUNT_OFFSET = 0x20;
/** Offset of count/limit in an interior index block (after a fake empty dirent). */
export const DX_NODE_COUNT_OFFSET = 0x08;
/** Htree depth cap without the largedir feature: root + one index level. */
export const DX_MAX_INDIRECT_LEVELS = 1;

// Extended attributes (attributes.rst).
export const XATTR_MAGIC = 0xea020000;
export const XATTR_BLOCK_HEADER_SIZE = 32;
export const XATTR_ENTRY_HEADER = 16;

// Special inode time range: seconds are 32-bit signed + 2 epoch bits.
export const TIME_MIN = -0x80000000;
export const TIME_MAX = 0x37fffffff; // (2^34 - 1) - 2^31 … last second representable
