/**
 * On-disk layout of tar headers: every field offset/length, magic value and
 * type flag we read or write, plus the resource limits of the reader.
 *
 * Sources: POSIX.1-2017 "pax" (ustar interchange format and pax extended
 * headers), GNU tar manual "Basic Tar Format" / "GNU sparse formats"
 * (oldgnu header, long names, sparse maps). See docs/tar.md.
 */

/** Size of one tar block; headers and data are padded to it (POSIX ustar). */
export const TAR_BLOCK = 512;

/** Bytes of NUL padding after a data area of `size` bytes (to a block boundary). */
export function paddingFor(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

/** A field of a header block: byte offset and length. */
export interface Field {
  readonly offset: number;
  readonly length: number;
}

/** POSIX ustar header fields (shared by v7 for name..linkname). */
export const F_NAME: Field = { offset: 0, length: 100 };
export const F_MODE: Field = { offset: 100, length: 8 };
export const F_UID: Field = { offset: 108, length: 8 };
export const F_GID: Field = { offset: 116, length: 8 };
export const F_SIZE: Field = { offset: 124, length: 12 };
export const F_MTIME: Field = { offset: 136, length: 12 };
export const F_CHKSUM: Field = { offset: 148, length: 8 };
export const F_TYPEFLAG: Field = { offset: 156, length: 1 };
export const F_LINKNAME: Field = { offset: 157, length: 100 };
export const F_MAGIC: Field = { offset: 257, length: 6 };
export const F_VERSION: Field = { offset: 263, length: 2 };
export const F_UNAME: Field = { offset: 265, length: 32 };
export const F_GNAME: Field = { offset: 297, length: 32 };
export const F_DEVMAJOR: Field = { offset: 329, length: 8 };
export const F_DEVMINOR: Field = { offset: 337, length: 8 };
/** ustar only: path prefix joined as prefix + "/" + name. */
export const F_PREFIX: Field = { offset: 345, length: 155 };

/** GNU (oldgnu) header fields that overlay the ustar prefix area. */
export const F_GNU_ATIME: Field = { offset: 345, length: 12 };
export const F_GNU_CTIME: Field = { offset: 357, length: 12 };
export const F_GNU_OFFSET: Field = { offset: 369, length: 12 };
export const F_GNU_LONGNAMES: Field = { offset: 381, length: 4 };
/** Four sparse descriptors (offset 12 + numbytes 12 each) in an 'S' header. */
export const F_GNU_SPARSE: Field = { offset: 386, length: 4 * 24 };
export const F_GNU_ISEXTENDED: Field = { offset: 482, length: 1 };
export const F_GNU_REALSIZE: Field = { offset: 483, length: 12 };

/** One GNU sparse descriptor: offset (12 bytes octal) then numbytes (12). */
export const GNU_SPARSE_DESC_SIZE = 24;
export const GNU_SPARSE_FIELD_SIZE = 12;
/** Descriptors in the 'S' header itself. */
export const GNU_SPARSE_IN_HEADER = 4;
/** Descriptors in one sparse extension block (21 * 24 = 504 bytes). */
export const GNU_SPARSE_IN_EXTENSION = 21;
/** isextended flag of a sparse extension block. */
export const GNU_EXT_ISEXTENDED_OFFSET = 504;

/** "ustar\0" + "00": POSIX ustar/pax. */
export const MAGIC_USTAR = 'ustar\0';
export const VERSION_USTAR = '00';
/** "ustar " + " \0": GNU tar (oldgnu/gnu formats). */
export const MAGIC_GNU = 'ustar ';
export const VERSION_GNU = ' \0';

/** The checksum is computed with the chksum field read as 8 spaces. */
export const CHKSUM_SPACE = 0x20;

/** Base-256 (GNU) numeric fields: high bit of the first byte set. */
export const BASE256_FLAG = 0x80;
/** Sign bit of a base-256 field (bit 6 of the first byte; 0xff = negative). */
export const BASE256_SIGN = 0x40;

/** Type flags (POSIX ustar, pax, GNU). */
export const TYPE = {
  /** Regular file ('0'); '\0' is the old (v7) spelling. */
  FILE: 0x30,
  FILE_OLD: 0x00,
  HARDLINK: 0x31,
  SYMLINK: 0x32,
  CHARDEV: 0x33,
  BLOCKDEV: 0x34,
  DIR: 0x35,
  FIFO: 0x36,
  /** Contiguous file ('7'): a regular file for us. */
  CONTIGUOUS: 0x37,
  /** pax extended header for the next entry ('x'). */
  PAX_LOCAL: 0x78,
  /** pax global extended header ('g'). */
  PAX_GLOBAL: 0x67,
  /** GNU long name for the next entry ('L'). */
  GNU_LONGNAME: 0x4c,
  /** GNU long link name for the next entry ('K'). */
  GNU_LONGLINK: 0x4b,
  /** GNU old sparse file ('S'). */
  GNU_SPARSE: 0x53,
  /** GNU incremental dump directory ('D'): a directory plus a listing we skip. */
  GNU_DUMPDIR: 0x44,
  /** GNU volume label ('V'): skipped. */
  GNU_VOLHDR: 0x56,
} as const;

/** Mode of the pax headers we write (deterministic, like GNU tar). */
export const PAX_HEADER_MODE = 0o644;
/** Directory that holds the names of pax headers we write: "PaxHeaders/<base>". */
export const PAX_HEADER_DIR = 'PaxHeaders/';

/** Largest values of ustar numeric fields written as octal (digits + NUL). */
export const MAX_OCTAL_ID = 0o7777777; // uid, gid, devmajor, devminor (8-byte fields)
export const MAX_OCTAL_SIZE = 0o77777777777; // size, mtime (12-byte fields)

/** Resource limits of the reader; exceeding one raises E_LIMIT. */
export interface TarLimits {
  /** Largest pax extended header ('x' or 'g') data, in bytes. */
  maxPaxHeaderSize: number;
  /** Largest GNU long name/link ('L'/'K') data, in bytes. */
  maxLongNameSize: number;
  /** Most data segments of one sparse file. */
  maxSparseSegments: number;
  /** Most entries (of any type, metadata headers included) in one archive. */
  maxEntries: number;
}

export const DEFAULT_TAR_LIMITS: Readonly<TarLimits> = {
  maxPaxHeaderSize: 1 << 20,
  maxLongNameSize: 64 << 10,
  maxSparseSegments: 1 << 16,
  maxEntries: 4_000_000,
};
