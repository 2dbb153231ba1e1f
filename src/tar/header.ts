/**
 * Decoding of one 512-byte tar header block (v7, POSIX ustar, GNU) into its
 * raw fields, before pax/GNU extension headers are applied. Pure.
 */
import {
  TAR_BLOCK,
  F_NAME, F_MODE, F_UID, F_GID, F_SIZE, F_MTIME, F_CHKSUM, F_TYPEFLAG, F_LINKNAME,
  F_MAGIC, F_VERSION, F_DEVMAJOR, F_DEVMINOR, F_PREFIX,
  F_GNU_ISEXTENDED, F_GNU_REALSIZE, F_GNU_SPARSE,
  MAGIC_USTAR, MAGIC_GNU, VERSION_GNU, CHKSUM_SPACE, TYPE, BASE256_SIGN, type Field,
  GNU_SPARSE_DESC_SIZE, GNU_SPARSE_FIELD_SIZE, GNU_SPARSE_IN_HEADER,
} from './constants.js';
import { decodeNumber, decodeString, isBase256 } from './numeric.js';
import { tarInvalid, type TarContext } from './errors.js';

/** Which header dialect a block uses (by its magic). */
export type HeaderFormat = 'v7' | 'ustar' | 'gnu';

/** A sparse data segment: `length` bytes of data at logical `offset`. */
export interface SparseRun {
  offset: number;
  length: number;
}

/** The fields of one header block, decoded but not interpreted. */
export interface RawHeader {
  format: HeaderFormat;
  /** Name (ustar: prefix + "/" + name), byte string. */
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** Type flag byte (e.g. 0x30 for '0'). */
  typeflag: number;
  linkname: string;
  devMajor: number;
  devMinor: number;
  /** GNU 'S' headers: descriptors in the header, isextended, realsize. */
  gnuSparse?: { runs: SparseRun[]; isExtended: boolean; realSize: number };
}

/** True when the block is all zeros (end-of-archive marker). */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < TAR_BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Header checksums: the sum of all bytes with the chksum field counted as
 * spaces, as unsigned bytes (POSIX) and as signed bytes (some old tars).
 */
export function headerChecksums(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const inSum = i >= F_CHKSUM.offset && i < F_CHKSUM.offset + F_CHKSUM.length;
    const c = inSum ? CHKSUM_SPACE : block[i];
    unsigned += c;
    signed += c >= 0x80 ? c - 0x100 : c;
  }
  return { unsigned, signed };
}

/** True when the bytes at `offset` equal the byte string `s`. */
function bytesEqual(block: Uint8Array, offset: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (block[offset + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** The POSIX (unsigned) checksum alone: the common case, checked first. */
function unsignedChecksum(block: Uint8Array): number {
  let sum = CHKSUM_SPACE * F_CHKSUM.length;
  for (let i = 0; i < F_CHKSUM.offset; i++) sum += block[i];
  for (let i = F_CHKSUM.offset + F_CHKSUM.length; i < TAR_BLOCK; i++) sum += block[i];
  return sum;
}

function formatOf(block: Uint8Array): HeaderFormat {
  if (bytesEqual(block, F_MAGIC.offset, MAGIC_GNU) && bytesEqual(block, F_VERSION.offset, VERSION_GNU)) return 'gnu';
  // POSIX wants version "00"; some writers leave it blank, so only the magic counts.
  if (bytesEqual(block, F_MAGIC.offset, MAGIC_USTAR)) return 'ustar';
  return 'v7';
}

/** A numeric field holding a negative GNU base-256 number. */
function isNegative256(block: Uint8Array, f: Field): boolean {
  return isBase256(block, f) && (block[f.offset] & BASE256_SIGN) !== 0;
}

function isDeviceType(t: number): boolean {
  return t === TYPE.CHARDEV || t === TYPE.BLOCKDEV;
}

/**
 * Decodes and checksum-verifies a (non-zero) header block. Throws
 * E_TAR_INVALID (naming ctx.label and ctx.offset) for a bad checksum,
 * malformed numbers, or negative sizes/ids.
 */
export function decodeHeader(block: Uint8Array, ctx: TarContext): RawHeader {
  if (block.length < TAR_BLOCK) throw tarInvalid(ctx, 'archive ends inside a header block');
  const stored = decodeNumber(block, F_CHKSUM, ctx, 'chksum');
  if (stored !== unsignedChecksum(block)) {
    const sums = headerChecksums(block);
    if (stored !== sums.signed) {
      throw tarInvalid(ctx, `header checksum mismatch (stored ${stored}, computed ${sums.unsigned})`);
    }
  }
  const format = formatOf(block);
  const typeflag = block[F_TYPEFLAG.offset];
  let name = decodeString(block, F_NAME);
  if (format === 'ustar') {
    const prefix = decodeString(block, F_PREFIX);
    if (prefix.length > 0) name = `${prefix}/${name}`;
  }
  if (isNegative256(block, F_SIZE)) throw tarInvalid(ctx, 'negative size');
  if (isNegative256(block, F_UID) || isNegative256(block, F_GID)) throw tarInvalid(ctx, 'negative uid/gid');
  const h: RawHeader = {
    format,
    name,
    mode: decodeNumber(block, F_MODE, ctx, 'mode') & 0o7777,
    uid: decodeNumber(block, F_UID, ctx, 'uid'),
    gid: decodeNumber(block, F_GID, ctx, 'gid'),
    size: decodeNumber(block, F_SIZE, ctx, 'size'),
    mtime: decodeNumber(block, F_MTIME, ctx, 'mtime'),
    typeflag,
    linkname: decodeString(block, F_LINKNAME),
    devMajor: 0,
    devMinor: 0,
  };
  // Device numbers only mean something for devices; other writers leave junk there.
  if (format !== 'v7' && isDeviceType(typeflag)) {
    h.devMajor = decodeNumber(block, F_DEVMAJOR, ctx, 'devmajor');
    h.devMinor = decodeNumber(block, F_DEVMINOR, ctx, 'devminor');
  }
  if (typeflag === TYPE.GNU_SPARSE) {
    h.gnuSparse = {
      runs: decodeSparseRuns(block, F_GNU_SPARSE.offset, GNU_SPARSE_IN_HEADER, ctx),
      isExtended: block[F_GNU_ISEXTENDED.offset] !== 0,
      realSize: decodeNumber(block, F_GNU_REALSIZE, ctx, 'realsize'),
    };
  }
  return h;
}

/**
 * Decodes up to `count` GNU sparse descriptors (offset, numbytes; 12-byte
 * numeric fields each) starting at `start`; an all-NUL offset ends the list.
 */
export function decodeSparseRuns(block: Uint8Array, start: number, count: number, ctx: TarContext): SparseRun[] {
  const runs: SparseRun[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + i * GNU_SPARSE_DESC_SIZE;
    if (block[at] === 0) break;
    const offset = decodeNumber(block, { offset: at, length: GNU_SPARSE_FIELD_SIZE }, ctx, 'sparse offset');
    const length = decodeNumber(block, { offset: at + GNU_SPARSE_FIELD_SIZE, length: GNU_SPARSE_FIELD_SIZE }, ctx, 'sparse numbytes');
    runs.push({ offset, length });
  }
  return runs;
}
