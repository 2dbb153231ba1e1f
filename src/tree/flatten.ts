/**
 * Image layers → one filesystem tree (OCI image-spec "Image Layer Filesystem
 * Changeset" semantics; decisions in docs/tree.md).
 *
 * Each layer is applied in two phases:
 *  1. its whiteouts (".wh.NAME", ".wh..wh..opq") are applied to the tree the
 *     LOWER layers built — the spec says whiteouts apply only to lower layers,
 *     so an entry added by the same layer survives whatever the tar order;
 *  2. its other entries are applied in archive order (last one wins).
 * File contents are never read: a file inode references bytes
 * [dataOffset, dataOffset+dataLength) of the layer's uncompressed tar.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { ProgressListener } from '../events.js';
import { NO_XATTRS, type TarEntry } from '../tar/entry.js';
import { IMPLICIT_DIR, joinPath, lookup, newDir, normalizeComponents, resolveDir, unsafePath } from './path.js';
import { applyRootMetadata } from './root.js';
import type { DirInode, Inode } from './types.js';

/** AUFS whiteout prefix (OCI image-spec layer.md "Whiteouts"). */
export const WHITEOUT_PREFIX = '.wh.';
/** Opaque-directory marker (OCI image-spec layer.md "Opaque Whiteout"). */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** Prefix of AUFS internal files (.wh..wh.plnk, .wh..wh.aufs): never content. */
export const AUFS_META_PREFIX = '.wh..wh.';

export interface LayerInput {
  /** Name used in messages (e.g. "2/5 sha256:abcd…"). */
  label: string;
  /** Path of the uncompressed layer tar: file contents are referenced from it, never copied into memory. */
  tarPath: string;
  /** Its entries in archive order: streamed, or listed (then no promise per entry on the way). */
  entries: AsyncIterable<TarEntry> | Promise<readonly TarEntry[]>;
}

export interface FlattenOptions {
  /** Skip unsafe or broken entries with a warning instead of failing. */
  lenient?: boolean;
  events?: ProgressListener;
}

export interface FlattenResult {
  root: DirInode;
  warnings: { code: string; message: string }[];
}

interface Ctx {
  root: DirInode;
  layer: LayerInput;
  lenient: boolean;
  warn: (code: string, message: string) => void;
}

/** Fails, or in lenient mode records a warning and lets the caller skip. */
function problem(ctx: Ctx, err: Oci2fsError): void {
  if (!ctx.lenient) throw err;
  ctx.warn(err.code, err.message);
}

function describe(ctx: Ctx, e: TarEntry): string {
  return `layer ${ctx.layer.label}: entry ${JSON.stringify(e.path)}`;
}

/** Builds the inode a (non-hardlink) tar entry describes. */
export function inodeFromEntry(e: TarEntry, tarPath: string): Inode {
  // an entry without xattrs shares the reader's empty map (tree maps are replaced, never changed)
  const xattrs = e.xattrs.size === 0 ? NO_XATTRS : new Map(e.xattrs);
  const base = { mode: e.mode & 0o7777, uid: e.uid, gid: e.gid, mtimeSec: e.mtimeSec, mtimeNsec: e.mtimeNsec, xattrs };
  switch (e.type) {
    case 'file': {
      const content = { kind: 'file' as const, path: tarPath, offset: e.dataOffset, length: e.dataLength, ...(e.sparse ? { sparse: e.sparse.map((s) => ({ ...s })) } : {}) };
      return { kind: 'file', ...base, size: e.size, content };
    }
    case 'dir':
      return { kind: 'dir', ...base, children: new Map() };
    case 'symlink':
      return { kind: 'symlink', ...base, target: e.linkname };
    case 'chardev':
    case 'blockdev':
      return { kind: e.type, ...base, rdevMajor: e.devMajor, rdevMinor: e.devMinor };
    case 'fifo':
      return { kind: 'fifo', ...base };
    default:
      throw new Oci2fsError(ErrorCode.INTERNAL, `no inode for tar entry type ${e.type}`);
  }
}

/** Phase 1: one whiteout entry against the lower layers' tree. */
function applyWhiteout(ctx: Ctx, e: TarEntry, comps: string[]): void {
  const base = comps[comps.length - 1];
  // The parent is resolved like any entry's (symlinks followed inside the
  // tree), as umoci and containerd's non-overlay appliers do (docs/tree.md).
  const parent = resolveDir(ctx.root, comps, false, comps.length - 1);
  if (!parent.ok) return; // nothing there to hide: no-op, nothing created
  const dir = parent.dir;
  if (base === OPAQUE_WHITEOUT) {
    dir.children.clear();
    return;
  }
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') {
    ctx.warn('W_WHITEOUT_INVALID', `${describe(ctx, e)} is a whiteout without a usable name; ignored`);
    return;
  }
  dir.children.delete(name);
}

/** The directory that holds the entry (created as needed), or null after reporting a problem. */
function parentOf(ctx: Ctx, e: TarEntry, comps: string[]): { dir: DirInode; name: string } | null {
  const parent = resolveDir(ctx.root, comps, true, comps.length - 1);
  if (!parent.ok) {
    const why = parent.reason === 'loop' ? 'too many levels of symbolic links' : 'is not a directory';
    problem(ctx, new Oci2fsError(ErrorCode.TAR_INVALID, `${describe(ctx, e)}: parent ${JSON.stringify(parent.at)} ${why}`));
    return null;
  }
  return { dir: parent.dir, name: comps[comps.length - 1] };
}

/** Phase 2: one addition/modification entry. */
function applyEntry(ctx: Ctx, e: TarEntry, comps: string[]): void {
  if (comps.length === 0) {
    // The root: its metadata comes from the root rule (tree/root.ts).
    if (e.type !== 'dir') {
      problem(ctx, new Oci2fsError(ErrorCode.TAR_INVALID, `${describe(ctx, e)} names the image root but is a ${e.type}, not a directory`));
    }
    return;
  }
  if (e.type === 'hardlink') {
    const tcomps = normalizeComponents(e.linkname);
    if (tcomps === null) {
      problem(ctx, unsafePath(ctx.layer.label, e.linkname, `hardlink target of ${JSON.stringify(e.path)}`));
      return;
    }
    const target = lookup(ctx.root, tcomps);
    if (target === undefined) {
      problem(ctx, new Oci2fsError(ErrorCode.TAR_INVALID,
        `${describe(ctx, e)} is a hardlink to ${JSON.stringify(e.linkname)}, which does not exist in this or a lower layer ` +
        '(it was never added, or was whited out)'));
      return;
    }
    if (target.kind === 'dir') {
      problem(ctx, new Oci2fsError(ErrorCode.TAR_INVALID, `${describe(ctx, e)} is a hardlink to directory ${JSON.stringify(e.linkname)}; directories cannot be hardlinked`));
      return;
    }
    const at = parentOf(ctx, e, comps);
    if (at !== null) at.dir.children.set(at.name, target);
    return;
  }

  const at = parentOf(ctx, e, comps);
  if (at === null) return;
  const { dir, name } = at;
  const existing = dir.children.get(name);

  const inode = inodeFromEntry(e, ctx.layer.tarPath);
  if (inode.kind === 'dir' && existing !== undefined && existing.kind === 'dir') {
    // Directory over directory: keep the children, take the new metadata.
    existing.mode = inode.mode;
    existing.uid = inode.uid;
    existing.gid = inode.gid;
    existing.mtimeSec = inode.mtimeSec;
    existing.mtimeNsec = inode.mtimeNsec;
    existing.xattrs = inode.xattrs;
    return;
  }
  dir.children.set(name, inode);
}

/** True for AUFS internal names (".wh..wh.plnk/...", ".wh..wh.aufs"), except the opaque marker. */
function isAufsMeta(comps: string[]): boolean {
  return comps.some((c, i) => c.startsWith(AUFS_META_PREFIX) && !(i === comps.length - 1 && c === OPAQUE_WHITEOUT));
}

function isWhiteout(comps: string[]): boolean {
  return comps.length > 0 && comps[comps.length - 1].startsWith(WHITEOUT_PREFIX);
}

/** Applies one layer to `root` in place. Returns the number of entries read. */
export async function applyLayer(root: DirInode, layer: LayerInput, lenient: boolean, warn: Ctx['warn']): Promise<number> {
  const ctx: Ctx = { root, layer, lenient, warn };
  const adds: [TarEntry, string[]][] = [];
  let count = 0;
  const visit = (e: TarEntry): void => {
    count++;
    const comps = normalizeComponents(e.path);
    if (comps === null) {
      problem(ctx, unsafePath(layer.label, e.path));
      return;
    }
    if (isAufsMeta(comps)) return; // AUFS bookkeeping (hardlink pool etc.), never image content
    if (isWhiteout(comps)) {
      applyWhiteout(ctx, e, comps);
    } else {
      adds.push([e, comps]); // metadata only: memory grows with the entry count
    }
  };
  if (layer.entries instanceof Promise) for (const e of await layer.entries) visit(e);
  else for await (const e of layer.entries) visit(e);
  for (const [e, comps] of adds) applyEntry(ctx, e, comps);
  return count;
}

/**
 * Flattens `layers` (lowest first) into one tree and applies the root rule.
 * Throws E_UNSAFE_PATH / E_TAR_INVALID naming the layer and entry unless
 * `lenient`, in which case the entry is skipped and a warning recorded (and
 * published as a 'warning' event).
 */
export async function flattenLayers(layers: LayerInput[], opts: FlattenOptions = {}): Promise<FlattenResult> {
  const root = newDir(IMPLICIT_DIR);
  const warnings: FlattenResult['warnings'] = [];
  const warn = (code: string, message: string): void => {
    warnings.push({ code, message });
    opts.events?.({ type: 'warning', code, message });
  };
  for (const layer of layers) await applyLayer(root, layer, opts.lenient ?? false, warn);
  applyRootMetadata(root);
  return { root, warnings };
}

/** For messages: the normalised form of an entry path. */
export function normalizedPath(path: string): string | null {
  const c = normalizeComponents(path);
  return c === null ? null : joinPath(c);
}
