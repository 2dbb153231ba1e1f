/**
 * Limits a composefs dumpfile must respect, as enforced by the C
 * `mkcomposefs --from-file` (libcomposefs lcfs-writer.h / lcfs-internal.h).
 */

/** Longest file name (LCFS_MAX_NAME_LENGTH, = NAME_MAX). */
export const LCFS_MAX_NAME_LENGTH = 255;
/** Payloads (symlink targets, object paths) must be shorter than PATH_MAX. */
export const LCFS_PATH_MAX = 4096;
/** Largest inline CONTENT accepted (LCFS_INLINE_CONTENT_MAX). */
export const LCFS_INLINE_CONTENT_MAX = 5000;
/** Longest xattr name (XATTR_NAME_MAX). */
export const XATTR_NAME_MAX = 255;
/** Largest xattr value (EROFS e_value_size is 16 bits). */
export const XATTR_VALUE_MAX = 0xffff;
/**
 * Budget for an inode's xattrs from external input (LCFS_INODE_EXTERNAL_XATTR_MAX
 * = UINT16_MAX / 2). Each xattr costs 2*4-1 + name + value bytes, plus a
 * 12-byte header for the first (worst-case EROFS alignment).
 */
export const LCFS_INODE_EXTERNAL_XATTR_MAX = 32767;
/** Per-xattr accounting overhead: 2 * sizeof(erofs_xattr_entry) - 1. */
export const XATTR_ENTRY_ACCOUNTING = 2 * 4 - 1;
/** Accounting for the xattr body header, charged with the first xattr. */
export const XATTR_HEADER_ACCOUNTING = 12;
/** The part of a dumpfile line after the fixed fields may be at most this long ("Too many xattrs"). */
export const XATTR_LINE_MAX = 0xffff;
/**
 * Largest size of a regular file without inline content: at most 1024
 * chunks of 2^43 bytes (LCFS_MAX_NONINLINE_CHUNKS * LCFS_MAX_CHUNK_SIZE =
 * 2^53). We stop one byte short, at Number.MAX_SAFE_INTEGER, so sizes stay exact.
 */
export const LCFS_MAX_EXTERNAL_FILE_SIZE = Number.MAX_SAFE_INTEGER;

/** Cost of one xattr in the per-inode budget (see LCFS_INODE_EXTERNAL_XATTR_MAX). */
export function xattrCost(nameLen: number, valueLen: number, first: boolean): number {
  return XATTR_ENTRY_ACCOUNTING + nameLen + valueLen + (first ? XATTR_HEADER_ACCOUNTING : 0);
}
