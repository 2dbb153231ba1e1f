/**
 * Parsing composefs dumpfiles into the in-memory tree. One line per inode:
 * `PATH SIZE MODE NLINK UID GID RDEV MTIME PAYLOAD CONTENT DIGEST XATTR...`
 * (see docs/composefs.md). Accepts what the C `mkcomposefs --from-file`
 * accepts; `strict` (the default) adds the checks of its strict mode.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import {
  S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK,
  devMajor, devMinor,
  type DirInode, type FileInode, type Inode, type InodeKind,
} from '../tree/types.js';
import { unescapeField } from './escape.js';
import {
  LCFS_MAX_NAME_LENGTH, LCFS_PATH_MAX, LCFS_INLINE_CONTENT_MAX, XATTR_NAME_MAX, XATTR_VALUE_MAX,
  LCFS_INODE_EXTERNAL_XATTR_MAX, XATTR_LINE_MAX, LCFS_MAX_EXTERNAL_FILE_SIZE, xattrCost,
} from './limits.js';

export interface ParseDumpfileOptions {
  /**
   * Strict mode (default true): also reject a missing final newline,
   * symlink SIZE not equal to the target length, content on symlinks and
   * non-regular files, RDEV on non-devices, and malformed digests.
   */
  strict?: boolean;
}

/** Number of fixed fields before the xattrs. */
const FIXED_FIELDS = 11;
const F_PATH = 0, F_SIZE = 1, F_MODE = 2, F_NLINK = 3, F_UID = 4, F_GID = 5, F_RDEV = 6, F_MTIME = 7, F_PAYLOAD = 8, F_CONTENT = 9, F_DIGEST = 10;
/** Largest uid/gid the tree accepts ((uid_t)-1 excluded). */
const ID_MAX = 0xfffffffe;
/** st_rdev is 32 bits in composefs (struct lcfs_inode_s). */
const RDEV_MAX = 0xffffffff;

const IFMT_TO_KIND: Record<number, InodeKind> = {
  [S_IFREG]: 'file', [S_IFDIR]: 'dir', [S_IFLNK]: 'symlink', [S_IFCHR]: 'chardev',
  [S_IFBLK]: 'blockdev', [S_IFIFO]: 'fifo', [S_IFSOCK]: 'socket',
};

class LineError extends Error {}

function bad(msg: string): never {
  throw new LineError(msg);
}

function unescape(field: string, what: string): string {
  const r = unescapeField(field);
  if ('error' in r) bad(`${what}: ${r.error}`);
  return r.value;
}

function optional(field: string, what: string): string | undefined {
  return field === '-' ? undefined : unescape(field, what);
}

function uint(field: string, what: string, base: 8 | 10 = 10): bigint {
  const re = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!re.test(field)) bad(`invalid ${what} ${JSON.stringify(field)}`);
  return base === 8 ? BigInt(`0o${field}`) : BigInt(field);
}

interface PendingLink {
  parent: DirInode;
  name: string;
  path: string;
  target: string;
}

interface State {
  root: DirInode | null;
  links: PendingLink[];
  placeholders: Set<Inode>;
  strict: boolean;
}

/** Splits "/a/b/c" into components the way mkcomposefs does (leading and doubled slashes ignored). */
function components(path: string): string[] {
  const parts = path.split('/').filter((p, i, all) => p !== '' || i === all.length - 1);
  return parts;
}

function lookupDir(st: State, comps: string[], path: string): DirInode {
  let dir = st.root as DirInode;
  for (const c of comps) {
    const child = dir.children.get(c);
    if (!child || st.placeholders.has(child)) bad(`parent directory missing for ${JSON.stringify(path)} (parents must come before children)`);
    if (child.kind !== 'dir') bad(`parent of ${JSON.stringify(path)} is not a directory`);
    dir = child;
  }
  return dir;
}

function parseLine(st: State, line: string): void {
  const nul = line.indexOf('\0');
  if (nul >= 0) bad(`embedded NUL character at position ${nul}`);
  // Split the fixed fields; a missing field reads as empty (and then fails to parse).
  const fields: string[] = [];
  let rest = line;
  for (let i = 0; i < FIXED_FIELDS; i++) {
    const sp = rest.indexOf(' ');
    if (sp < 0) {
      fields.push(rest);
      rest = '';
    } else {
      fields.push(rest.slice(0, sp));
      rest = rest.slice(sp + 1);
    }
  }
  const path = unescape(fields[F_PATH], 'PATH');
  if (path === '') bad('empty PATH');
  let modeField = fields[F_MODE];
  const isLink = modeField.startsWith('@');
  if (isLink) modeField = modeField.slice(1);
  const modeBig = uint(modeField, 'MODE (octal)', 8);
  // st_mode is 16 bits in EROFS; mkcomposefs silently drops higher bits, strict mode refuses them.
  if (modeBig > 0o177777n && st.strict) bad(`MODE ${modeField} has bits beyond the 16-bit st_mode`);
  const mode = Number(modeBig & 0o177777n);
  const kind = IFMT_TO_KIND[mode & S_IFMT];
  if (!kind) bad(`MODE ${modeField} has no valid file type (S_IFMT bits ${(mode & S_IFMT).toString(8)})`);

  // Place the entry in the tree first (like mkcomposefs), so duplicates are caught for links too.
  let parent: DirInode | null = null;
  let name = '';
  if (path === '/') {
    if (kind !== 'dir') bad('the root "/" must be a directory');
    if (st.root) bad('more than one root "/" line');
    if (isLink) bad('the root cannot be a hardlink');
  } else {
    if (!st.root) bad(`${JSON.stringify(path)} comes before the root "/" line`);
    const comps = components(path);
    name = comps.pop() ?? '';
    if (name === '') bad(`empty file name in PATH ${JSON.stringify(path)}`);
    if (name === '.' || name === '..') bad(`invalid . or .. in PATH ${JSON.stringify(path)}`);
    if (name.length > LCFS_MAX_NAME_LENGTH) bad(`file name longer than ${LCFS_MAX_NAME_LENGTH} bytes in ${JSON.stringify(path)}`);
    parent = lookupDir(st, comps, path);
    if (parent.children.has(name)) bad(`path ${JSON.stringify(path)} appears twice`);
  }

  if (isLink) {
    if (kind === 'dir') bad(`directories cannot be hardlinked (${JSON.stringify(path)})`);
    const target = optional(fields[F_PAYLOAD], 'PAYLOAD');
    if (target === undefined || target === '') bad(`hardlink ${JSON.stringify(path)} has no target path in PAYLOAD`);
    const ph: Inode = { kind: 'fifo', mode: 0, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map() };
    st.placeholders.add(ph);
    (parent as DirInode).children.set(name, ph);
    st.links.push({ parent: parent as DirInode, name, path, target });
    return;
  }

  const size = uint(fields[F_SIZE], 'SIZE');
  uint(fields[F_NLINK], 'NLINK'); // recomputed from the tree; only checked for syntax
  const uid = uint(fields[F_UID], 'UID');
  const gid = uint(fields[F_GID], 'GID');
  const rdev = uint(fields[F_RDEV], 'RDEV');
  if (uid > BigInt(ID_MAX) || gid > BigInt(ID_MAX)) bad(`UID/GID out of range (max ${ID_MAX})`);
  if (rdev > BigInt(RDEV_MAX)) bad(`RDEV ${rdev} does not fit 32 bits`);
  const m = /^(-?[0-9]+)\.([0-9]+)$/.exec(fields[F_MTIME]);
  if (!m) bad(`invalid MTIME ${JSON.stringify(fields[F_MTIME])}: expected SECONDS.NANOSECONDS`);
  const mtimeSec = Number(m[1]);
  const mtimeNsec = Number(m[2]);
  if (!Number.isSafeInteger(mtimeSec) || mtimeNsec > 999_999_999) bad(`MTIME ${fields[F_MTIME]} out of range`);
  const payload = optional(fields[F_PAYLOAD], 'PAYLOAD');
  const content = optional(fields[F_CONTENT], 'CONTENT');
  const digestField = optional(fields[F_DIGEST], 'DIGEST');
  if (content !== undefined && BigInt(content.length) !== size) bad(`CONTENT has ${content.length} bytes but SIZE is ${size}`);
  if (payload !== undefined && payload.length >= LCFS_PATH_MAX) bad(`PAYLOAD is ${payload.length} bytes, must be shorter than ${LCFS_PATH_MAX}`);
  let digest: string | undefined;
  if (digestField !== undefined) {
    if (/^[0-9a-fA-F]{64}$/.test(digestField)) digest = digestField.toLowerCase();
    else if (st.strict) bad(`DIGEST ${JSON.stringify(digestField)} is not 64 hex digits (a sha256 fs-verity digest)`);
  }
  if (st.strict && rdev !== 0n && kind !== 'chardev' && kind !== 'blockdev') bad('non-zero RDEV on a non-device');
  if (st.strict && content !== undefined && content.length > 0 && kind !== 'file') bad(`CONTENT is only allowed on regular files, not on a ${kind}`);

  const base = { mode: mode & 0o7777, uid: Number(uid), gid: Number(gid), mtimeSec, mtimeNsec, xattrs: new Map<string, Uint8Array>() };
  let inode: Inode;
  switch (kind) {
    case 'dir':
      inode = { ...base, kind, children: new Map() };
      break;
    case 'symlink':
      if (payload === undefined || payload === '') bad('symlink without a target (PAYLOAD is empty)');
      if (st.strict && BigInt(payload.length) !== size) bad(`symlink SIZE ${size} does not match its target length ${payload.length}`);
      inode = { ...base, kind, target: payload };
      break;
    case 'file': {
      if (content !== undefined) {
        if (content.length > LCFS_INLINE_CONTENT_MAX) bad(`inline CONTENT of ${content.length} bytes exceeds the maximum ${LCFS_INLINE_CONTENT_MAX}`);
        inode = { ...base, kind, size: content.length, content: { kind: 'inline', data: Buffer.from(content, 'latin1') } };
      } else {
        if (size > BigInt(LCFS_MAX_EXTERNAL_FILE_SIZE)) bad(`file SIZE ${size} is too big for composefs (max ${LCFS_MAX_EXTERNAL_FILE_SIZE})`);
        const n = Number(size);
        const f: FileInode = n === 0 && payload === undefined
          ? { ...base, kind, size: 0, content: { kind: 'inline', data: new Uint8Array(0) } }
          : { ...base, kind, size: n, content: { kind: 'external', payload: payload ?? '', ...(digest ? { digest } : {}) } };
        inode = f;
      }
      if (digest) (inode as FileInode).fsverityDigest = digest;
      break;
    }
    case 'chardev':
    case 'blockdev':
      inode = { ...base, kind, rdevMajor: devMajor(Number(rdev)), rdevMinor: devMinor(Number(rdev)) };
      break;
    default:
      inode = { ...base, kind };
  }

  if (rest.length > XATTR_LINE_MAX) bad(`too many xattrs (${rest.length} bytes of xattrs, max ${XATTR_LINE_MAX})`);
  let budget = 0;
  while (rest.length > 0) {
    const sp = rest.indexOf(' ');
    const x = sp < 0 ? rest : rest.slice(0, sp);
    rest = sp < 0 ? '' : rest.slice(sp + 1);
    const eq = x.indexOf('=');
    if (eq < 0) bad(`xattr ${JSON.stringify(x)} has no "="`);
    const key = unescape(x.slice(0, eq), 'xattr name');
    const value = unescape(x.slice(eq + 1), 'xattr value');
    if (key === '') bad('empty xattr name');
    if (key.length > XATTR_NAME_MAX) bad(`xattr name of ${key.length} bytes exceeds ${XATTR_NAME_MAX}`);
    if (value.length > XATTR_VALUE_MAX) bad(`xattr ${key} value of ${value.length} bytes exceeds ${XATTR_VALUE_MAX}`);
    if (!key.includes('.')) bad(`xattr name ${JSON.stringify(key)} has no namespace (like user. or trusted.)`);
    // Same accounting as libcomposefs: a repeated name replaces the earlier value.
    const old = inode.xattrs.get(key);
    let others = inode.xattrs.size;
    if (old) {
      others--;
      budget = others > 0 ? budget - xattrCost(key.length, old.length, false) : 0;
    }
    budget += xattrCost(key.length, value.length, others === 0);
    if (budget > LCFS_INODE_EXTERNAL_XATTR_MAX) bad(`xattrs of ${JSON.stringify(path)} exceed the ${LCFS_INODE_EXTERNAL_XATTR_MAX}-byte limit`);
    inode.xattrs.set(key, Buffer.from(value, 'latin1'));
  }

  if (path === '/') st.root = inode as DirInode;
  else (parent as DirInode).children.set(name, inode);
}

function resolveLinks(st: State): void {
  const root = st.root as DirInode;
  const byPath = (p: string): Inode | undefined => {
    let cur: Inode = root;
    for (const c of components(p)) {
      if (c === '') continue;
      if (cur.kind !== 'dir') return undefined;
      const next: Inode | undefined = cur.children.get(c);
      if (!next) return undefined;
      cur = next;
    }
    return cur;
  };
  const phTarget = new Map<Inode, PendingLink>();
  for (const l of st.links) phTarget.set(l.parent.children.get(l.name) as Inode, l);
  for (const l of st.links) {
    let target = byPath(l.target);
    const seen = new Set<PendingLink>([l]);
    while (target && st.placeholders.has(target)) {
      const next = phTarget.get(target) as PendingLink;
      if (seen.has(next)) {
        throw new LineError(next === l ? `self-referential hardlink ${JSON.stringify(l.path)}` : `hardlink loop through ${JSON.stringify(l.path)}`);
      }
      seen.add(next);
      target = byPath(next.target);
    }
    if (!target) throw new LineError(`no target at ${JSON.stringify(l.target)} for hardlink ${JSON.stringify(l.path)}`);
    if (target.kind === 'dir') throw new LineError(`hardlink ${JSON.stringify(l.path)} points to a directory`);
    l.parent.children.set(l.name, target);
  }
}

/** Text as a byte string: Buffers byte for byte; strings with chars > 0xff are UTF-8 encoded first. */
function toByteString(text: Buffer | string): string {
  if (typeof text !== 'string') return text.toString('latin1');
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\xff]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}

/**
 * Parses a composefs dumpfile into a directory tree (not yet validated:
 * pass it to validateTree). Throws E_DUMPFILE_INVALID with the line number.
 * Regular files: CONTENT → inline content; otherwise external content
 * `{ payload, digest }` (payload '' when absent); DIGEST also goes to
 * `fsverityDigest`. Hardlinks (`@MODE`, PAYLOAD = target path) become shared
 * inode objects. NLINK is ignored (recomputed). Whiteouts stay char devices 0:0.
 */
export function parseDumpfile(text: Buffer | string, opts: ParseDumpfileOptions = {}): DirInode {
  const st: State = { root: null, links: [], placeholders: new Set(), strict: opts.strict ?? true };
  const s = toByteString(text);
  let lineNo = 0;
  let pos = 0;
  try {
    while (pos < s.length) {
      lineNo++;
      const nl = s.indexOf('\n', pos);
      let line: string;
      if (nl < 0) {
        if (st.strict) throw new LineError('missing newline at the end of the last line');
        line = s.slice(pos);
        pos = s.length;
      } else {
        line = s.slice(pos, nl);
        pos = nl + 1;
      }
      parseLine(st, line);
    }
    lineNo = 0;
    if (!st.root) throw new LineError('no root "/" line (empty dumpfile)');
    resolveLinks(st);
  } catch (e) {
    if (e instanceof LineError) {
      const where = lineNo > 0 ? `line ${lineNo}` : 'hardlinks';
      throw new Oci2fsError(ErrorCode.DUMPFILE_INVALID, `Invalid composefs dumpfile (${where}): ${e.message}`);
    }
    throw e;
  }
  return st.root;
}
