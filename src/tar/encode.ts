/**
 * Encoding of entry headers for our tar output writer: a POSIX ustar
 * header, preceded by a pax 'x' header whenever a value does not fit ustar.
 * Deterministic: uname/gname empty, pax header name/mode/mtime fixed (see
 * docs/tar.md, "Writing"). Pure.
 */
import { isUtf8 } from 'node:buffer';
import { Oci2fsError, ErrorCode } from '../errors.js';
import {
  TAR_BLOCK, TYPE, paddingFor,
  F_NAME, F_MODE, F_UID, F_GID, F_SIZE, F_MTIME, F_CHKSUM, F_TYPEFLAG, F_LINKNAME,
  F_MAGIC, F_VERSION, F_DEVMAJOR, F_DEVMINOR, F_PREFIX,
  MAGIC_USTAR, VERSION_USTAR, MAX_OCTAL_ID, MAX_OCTAL_SIZE, PAX_HEADER_MODE, PAX_HEADER_DIR,
} from './constants.js';
import type { TarEntry, TarEntryType } from './entry.js';
import { PAX_KEY } from './extensions.js';
import { headerChecksums } from './header.js';
import { encodeOctal, encodeString } from './numeric.js';
import { encodePaxRecord, formatPaxTime } from './pax.js';

export { TAR_BLOCK, paddingFor } from './constants.js';

/** What encodeHeader needs of an entry (a TarEntry fits). */
export type TarHeaderInput = Pick<
  TarEntry,
  'path' | 'type' | 'mode' | 'uid' | 'gid' | 'mtimeSec' | 'mtimeNsec' | 'size' | 'linkname' | 'devMajor' | 'devMinor' | 'xattrs'
>;

const TYPEFLAG_OF: Record<TarEntryType, number> = {
  file: TYPE.FILE,
  hardlink: TYPE.HARDLINK,
  symlink: TYPE.SYMLINK,
  chardev: TYPE.CHARDEV,
  blockdev: TYPE.BLOCKDEV,
  dir: TYPE.DIR,
  fifo: TYPE.FIFO,
};

/** Value of pax hdrcharset for names that are not valid UTF-8 (POSIX). */
export const HDRCHARSET_BINARY = 'BINARY';

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Uint8Array {
  return new Uint8Array(2 * TAR_BLOCK);
}

function bad(what: string): Oci2fsError {
  return new Oci2fsError(ErrorCode.INTERNAL, `cannot encode tar header: ${what}`);
}

function checkByteString(s: string, what: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw bad(`${what} is not a byte string (char ${c} at ${i})`);
    if (c === 0) throw bad(`${what} contains a NUL byte`);
  }
}

/**
 * Splits a path into ustar prefix and name (prefix + "/" + name), or null
 * when it cannot be. Uses the last "/" that leaves a prefix of at most 155
 * bytes and a non-empty name of at most 100 bytes.
 */
export function splitUstarPath(path: string): { prefix: string; name: string } | null {
  if (path.length <= F_NAME.length) return { prefix: '', name: path };
  if (path.length > F_PREFIX.length + 1 + F_NAME.length) return null;
  for (let i = path.lastIndexOf('/', F_PREFIX.length); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const nameLen = path.length - i - 1;
    if (nameLen > F_NAME.length) return null; // earlier slashes only make the name longer
    if (nameLen > 0) return { prefix: path.slice(0, i), name: path.slice(i + 1) };
  }
  return null;
}

/** Name of the pax header we write for `path`: PaxHeaders/<basename, first 89 bytes>. */
export function paxHeaderName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const base = trimmed.slice(trimmed.lastIndexOf('/') + 1) || '.';
  return PAX_HEADER_DIR + base.slice(0, F_NAME.length - PAX_HEADER_DIR.length);
}

function bytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

/** Builds one 512-byte header block with its checksum. */
function block(fields: {
  name: string; prefix: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: number; linkname: string; devMajor: number; devMinor: number;
}): Uint8Array {
  const b = new Uint8Array(TAR_BLOCK);
  encodeString(b, F_NAME, fields.name);
  encodeOctal(b, F_MODE, fields.mode);
  encodeOctal(b, F_UID, fields.uid);
  encodeOctal(b, F_GID, fields.gid);
  encodeOctal(b, F_SIZE, fields.size);
  encodeOctal(b, F_MTIME, fields.mtime);
  b[F_TYPEFLAG.offset] = fields.typeflag;
  encodeString(b, F_LINKNAME, fields.linkname);
  encodeString(b, F_MAGIC, MAGIC_USTAR);
  encodeString(b, F_VERSION, VERSION_USTAR);
  encodeOctal(b, F_DEVMAJOR, fields.devMajor);
  encodeOctal(b, F_DEVMINOR, fields.devMinor);
  encodeString(b, F_PREFIX, fields.prefix);
  // Checksum: 6 octal digits, NUL, space (the form GNU tar writes).
  const sum = headerChecksums(b).unsigned;
  encodeString(b, F_CHKSUM, `${sum.toString(8).padStart(6, '0')}\0 `);
  return b;
}

function checkId(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw bad(`${what} ${v} is not a non-negative integer`);
}

/**
 * All header blocks for one entry: a pax 'x' header (plus its padded data)
 * when some value does not fit ustar or xattrs are present, then the ustar
 * header. The caller writes the entry data (`size` bytes for files, none for
 * other types) and paddingFor(size) zero bytes after it.
 */
/**
 * A GNU sparse 1.0 file (pax format): the header's path is a stand-in name,
 * `size` counts the map block plus the packed data, and these records give
 * the real name and size (GNU tar manual, "PAX Format, Version 1.0").
 */
export interface SparseHeader {
  realPath: string;
  realSize: number;
}

/** The stand-in name GNU tar gives a sparse 1.0 entry ("DIR/GNUSparseFile.PID/NAME"), with a fixed 0 for the pid. */
export function sparseStandInName(path: string): string {
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}GNUSparseFile.0/${path.slice(slash + 1)}`;
}

export function encodeHeader(input: TarHeaderInput, sparse?: SparseHeader): Uint8Array {
  const { path, linkname } = input;
  if (path.length === 0) throw bad('empty path');
  checkByteString(path, 'path');
  checkByteString(linkname, 'link name');
  for (const [v, what] of [[input.uid, 'uid'], [input.gid, 'gid'], [input.size, 'size'], [input.devMajor, 'devmajor'], [input.devMinor, 'devminor']] as const) {
    checkId(v, what);
  }
  if (!Number.isSafeInteger(input.mtimeSec) || !Number.isInteger(input.mtimeNsec) || input.mtimeNsec < 0 || input.mtimeNsec > 999_999_999) {
    throw bad(`mtime ${input.mtimeSec}.${input.mtimeNsec} is out of range`);
  }
  const hasData = input.type === 'file';
  const hasLink = input.type === 'symlink' || input.type === 'hardlink';
  const isDev = input.type === 'chardev' || input.type === 'blockdev';
  const size = hasData ? input.size : 0;

  const records: Uint8Array[] = [];
  const add = (key: string, value: string | Uint8Array): void => {
    records.push(encodePaxRecord(key, typeof value === 'string' ? bytes(value) : value));
  };
  if (sparse) {
    checkByteString(sparse.realPath, 'sparse file name');
    checkId(sparse.realSize, 'sparse real size');
    add(PAX_KEY.SPARSE_MAJOR, '1');
    add(PAX_KEY.SPARSE_MINOR, '0');
    add(PAX_KEY.SPARSE_NAME, sparse.realPath);
    add(PAX_KEY.SPARSE_REALSIZE, String(sparse.realSize));
  }
  const split = splitUstarPath(path);
  const link = hasLink ? linkname : '';
  const needPath = split === null;
  const needLink = link.length > F_LINKNAME.length;
  if ((needPath && !isUtf8(bytes(path))) || (needLink && !isUtf8(bytes(link)))) add(PAX_KEY.HDRCHARSET, HDRCHARSET_BINARY);
  if (needPath) add(PAX_KEY.PATH, path);
  if (needLink) add(PAX_KEY.LINKPATH, link);
  if (size > MAX_OCTAL_SIZE) add(PAX_KEY.SIZE, String(size));
  if (input.uid > MAX_OCTAL_ID) add(PAX_KEY.UID, String(input.uid));
  if (input.gid > MAX_OCTAL_ID) add(PAX_KEY.GID, String(input.gid));
  const mtimeFits = input.mtimeNsec === 0 && input.mtimeSec >= 0 && input.mtimeSec <= MAX_OCTAL_SIZE;
  if (!mtimeFits) add(PAX_KEY.MTIME, formatPaxTime(input.mtimeSec, input.mtimeNsec));
  const devMajor = isDev ? input.devMajor : 0;
  const devMinor = isDev ? input.devMinor : 0;
  if (devMajor > MAX_OCTAL_ID) add(PAX_KEY.SCHILY_DEVMAJOR, String(devMajor));
  if (devMinor > MAX_OCTAL_ID) add(PAX_KEY.SCHILY_DEVMINOR, String(devMinor));
  for (const name of [...input.xattrs.keys()].sort()) {
    checkByteString(name, 'xattr name');
    if (name.length === 0 || name.includes('=')) throw bad(`xattr name ${JSON.stringify(name)} cannot be stored in a pax record`);
    add(PAX_KEY.SCHILY_XATTR + name, input.xattrs.get(name) as Uint8Array);
  }

  const header = block({
    name: split ? split.name : path.slice(0, F_NAME.length),
    prefix: split ? split.prefix : '',
    mode: input.mode & 0o7777,
    uid: input.uid > MAX_OCTAL_ID ? 0 : input.uid,
    gid: input.gid > MAX_OCTAL_ID ? 0 : input.gid,
    size: size > MAX_OCTAL_SIZE ? 0 : size,
    mtime: Math.min(Math.max(input.mtimeSec, 0), MAX_OCTAL_SIZE),
    typeflag: TYPEFLAG_OF[input.type],
    linkname: link.slice(0, F_LINKNAME.length),
    devMajor: devMajor > MAX_OCTAL_ID ? 0 : devMajor,
    devMinor: devMinor > MAX_OCTAL_ID ? 0 : devMinor,
  });
  if (records.length === 0) return header;

  const paxData = Buffer.concat(records);
  const paxHeader = block({
    name: paxHeaderName(path), prefix: '', mode: PAX_HEADER_MODE, uid: 0, gid: 0, size: paxData.length,
    mtime: 0, typeflag: TYPE.PAX_LOCAL, linkname: '', devMajor: 0, devMinor: 0,
  });
  const out = new Uint8Array(TAR_BLOCK + paxData.length + paddingFor(paxData.length) + TAR_BLOCK);
  out.set(paxHeader, 0);
  out.set(paxData, TAR_BLOCK);
  out.set(header, out.length - TAR_BLOCK);
  return out;
}
