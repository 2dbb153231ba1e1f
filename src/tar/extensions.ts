/**
 * Interpretation of pax records (global 'g' and local 'x') into overrides of
 * the ustar header fields: path, linkpath, size, ids, mtime with nanoseconds,
 * device numbers, xattrs (SCHILY and LIBARCHIVE spellings) and GNU sparse
 * metadata (formats 0.0, 0.1 and 1.0). Pure.
 */
import type { TarLimits } from './constants.js';
import { tarInvalid, tarLimit, type TarContext } from './errors.js';
import type { SparseRun } from './header.js';
import { base64Decode, parsePaxInt, parsePaxTime, percentDecode, type PaxRecord } from './pax.js';
import { latin1 } from './numeric.js';
import { NO_XATTRS } from './entry.js';

/** pax keys (POSIX) and vendor keys (SCHILY = star/GNU tar, LIBARCHIVE, GNU). */
export const PAX_KEY = {
  PATH: 'path',
  LINKPATH: 'linkpath',
  SIZE: 'size',
  UID: 'uid',
  GID: 'gid',
  MTIME: 'mtime',
  HDRCHARSET: 'hdrcharset',
  SCHILY_XATTR: 'SCHILY.xattr.',
  LIBARCHIVE_XATTR: 'LIBARCHIVE.xattr.',
  SCHILY_DEVMAJOR: 'SCHILY.devmajor',
  SCHILY_DEVMINOR: 'SCHILY.devminor',
  SPARSE_MAJOR: 'GNU.sparse.major',
  SPARSE_MINOR: 'GNU.sparse.minor',
  SPARSE_NAME: 'GNU.sparse.name',
  SPARSE_REALSIZE: 'GNU.sparse.realsize',
  SPARSE_SIZE: 'GNU.sparse.size',
  SPARSE_NUMBLOCKS: 'GNU.sparse.numblocks',
  SPARSE_OFFSET: 'GNU.sparse.offset',
  SPARSE_NUMBYTES: 'GNU.sparse.numbytes',
  SPARSE_MAP: 'GNU.sparse.map',
} as const;

/** GNU sparse metadata found in pax records. */
export interface PaxSparse {
  /** "0.0", "0.1" (map in the header) or "1.0" (map at the start of the data). */
  version: '0.0' | '0.1' | '1.0';
  realSize: number;
  /** Segments for 0.0/0.1; for 1.0 they are read from the data area. */
  runs: SparseRun[];
}

/** Header-field overrides from pax records; undefined = use the header. */
export interface PaxOverrides {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: { sec: number; nsec: number };
  devMajor?: number;
  devMinor?: number;
  xattrs: Map<string, Uint8Array>;
  sparse?: PaxSparse;
}

/**
 * True for xattr records. For them an empty value is an empty xattr (Linux
 * allows those; GNU tar restores them and containerd/docker, iterating Go's
 * PAXRecords, apply them), not the POSIX "delete this keyword" marker.
 */
export function isXattrKey(key: string): boolean {
  return key.startsWith(PAX_KEY.SCHILY_XATTR) || key.startsWith(PAX_KEY.LIBARCHIVE_XATTR);
}

/**
 * Global pax state: each 'g' header updates it; a record with an empty
 * value deletes the key (POSIX), except for xattrs (see isXattrKey).
 */
export function mergeGlobal(globals: Map<string, Uint8Array>, records: PaxRecord[]): void {
  for (const r of records) {
    if (r.value.length === 0 && !isXattrKey(r.key)) globals.delete(r.key);
    else globals.set(r.key, r.value);
  }
}

/**
 * Effective overrides for one entry: globals, then its local records (a
 * local empty value removes the key for this entry, except for xattrs:
 * see isXattrKey). Repeated
 * GNU.sparse.offset/numbytes records (sparse 0.0) are kept in order.
 */
export function interpretPax(
  globals: ReadonlyMap<string, Uint8Array>,
  local: PaxRecord[],
  ctx: TarContext,
  limits: TarLimits,
): PaxOverrides {
  if (globals.size === 0 && local.length === 0) return { xattrs: NO_XATTRS };
  const kv = new Map(globals);
  const pairs: { key: string; value: Uint8Array }[] = [];
  for (const r of local) {
    if (r.key === PAX_KEY.SPARSE_OFFSET || r.key === PAX_KEY.SPARSE_NUMBYTES) pairs.push(r);
    else if (r.value.length === 0 && !isXattrKey(r.key)) kv.delete(r.key);
    else kv.set(r.key, r.value);
  }
  const o: PaxOverrides = { xattrs: new Map() };
  const int = (key: string): number | undefined => {
    const v = kv.get(key);
    return v === undefined ? undefined : parsePaxInt(v, key, ctx);
  };
  const path = kv.get(PAX_KEY.PATH);
  if (path) o.path = latin1(path);
  const linkpath = kv.get(PAX_KEY.LINKPATH);
  if (linkpath) o.linkpath = latin1(linkpath);
  o.size = int(PAX_KEY.SIZE);
  o.uid = int(PAX_KEY.UID);
  o.gid = int(PAX_KEY.GID);
  o.devMajor = int(PAX_KEY.SCHILY_DEVMAJOR);
  o.devMinor = int(PAX_KEY.SCHILY_DEVMINOR);
  const mtime = kv.get(PAX_KEY.MTIME);
  if (mtime) o.mtime = parsePaxTime(mtime, PAX_KEY.MTIME, ctx);
  for (const key of [...kv.keys()].sort()) {
    const value = kv.get(key) as Uint8Array;
    if (key.startsWith(PAX_KEY.SCHILY_XATTR)) {
      const name = key.slice(PAX_KEY.SCHILY_XATTR.length);
      if (name.length === 0) throw tarInvalid(ctx, 'pax xattr record with an empty name');
      o.xattrs.set(name, new Uint8Array(value));
    } else if (key.startsWith(PAX_KEY.LIBARCHIVE_XATTR)) {
      const name = percentDecode(key.slice(PAX_KEY.LIBARCHIVE_XATTR.length), ctx);
      if (name.length === 0) throw tarInvalid(ctx, 'pax xattr record with an empty name');
      // SCHILY wins when both spellings name the same xattr (libarchive writes both).
      if (!kv.has(PAX_KEY.SCHILY_XATTR + name)) o.xattrs.set(name, base64Decode(latin1(value), ctx));
    }
  }
  if (o.xattrs.size > 1) {
    // Byte order of the xattr names (both spellings merged above).
    o.xattrs = new Map([...o.xattrs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  } else if (o.xattrs.size === 0) {
    o.xattrs = NO_XATTRS;
  }
  const name = kv.get(PAX_KEY.SPARSE_NAME);
  if (name) o.path = latin1(name);
  o.sparse = interpretSparse(kv, pairs, ctx, limits);
  return o;
}

function interpretSparse(
  kv: Map<string, Uint8Array>,
  pairs: { key: string; value: Uint8Array }[],
  ctx: TarContext,
  limits: TarLimits,
): PaxSparse | undefined {
  const int = (key: string): number | undefined => {
    const v = kv.get(key);
    return v === undefined ? undefined : parsePaxInt(v, key, ctx);
  };
  const major = int(PAX_KEY.SPARSE_MAJOR);
  const minor = int(PAX_KEY.SPARSE_MINOR);
  const map = kv.get(PAX_KEY.SPARSE_MAP);
  const realSize = int(PAX_KEY.SPARSE_REALSIZE) ?? int(PAX_KEY.SPARSE_SIZE);
  if (major !== undefined || minor !== undefined) {
    if (major !== 1 || minor !== 0) {
      throw tarInvalid(ctx, `unsupported GNU sparse format ${major ?? '?'}.${minor ?? '?'} (we read 0.0, 0.1 and 1.0)`);
    }
    if (realSize === undefined) throw tarInvalid(ctx, 'GNU sparse 1.0 entry without GNU.sparse.realsize');
    return { version: '1.0', realSize, runs: [] };
  }
  if (map === undefined && pairs.length === 0) return undefined;
  if (realSize === undefined) throw tarInvalid(ctx, 'GNU sparse entry without GNU.sparse.size');
  const numbers: number[] = [];
  if (map !== undefined) {
    const s = latin1(map);
    if (s.length > 0) {
      for (const part of s.split(',')) {
        if (!/^[0-9]+$/.test(part)) throw tarInvalid(ctx, `GNU.sparse.map has a non-number ${JSON.stringify(part)}`);
        numbers.push(Number(part));
        if (numbers.length > 2 * limits.maxSparseSegments) {
          throw tarLimit(ctx, 'too many sparse segments', 'maxSparseSegments');
        }
      }
    }
    if (numbers.length % 2 !== 0) throw tarInvalid(ctx, 'GNU.sparse.map has an odd number of values');
  } else {
    if (pairs.length > 2 * limits.maxSparseSegments) throw tarLimit(ctx, 'too many sparse segments', 'maxSparseSegments');
    pairs.forEach((p, i) => {
      const want = i % 2 === 0 ? PAX_KEY.SPARSE_OFFSET : PAX_KEY.SPARSE_NUMBYTES;
      if (p.key !== want) throw tarInvalid(ctx, `GNU sparse 0.0 records out of order (expected ${want})`);
      numbers.push(parsePaxInt(p.value, p.key, ctx));
    });
    if (numbers.length % 2 !== 0) throw tarInvalid(ctx, 'GNU sparse 0.0 offset without numbytes');
  }
  const runs: SparseRun[] = [];
  for (let i = 0; i < numbers.length; i += 2) {
    if (!Number.isSafeInteger(numbers[i]) || !Number.isSafeInteger(numbers[i + 1])) {
      throw tarInvalid(ctx, 'GNU sparse map value too large');
    }
    runs.push({ offset: numbers[i], length: numbers[i + 1] });
  }
  return { version: map !== undefined ? '0.1' : '0.0', realSize, runs };
}
