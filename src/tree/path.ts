/**
 * Entry-path normalisation and in-tree path resolution (see docs/tree.md).
 *
 * Paths are byte strings. Normalisation is lexical: leading "/" (absolute
 * names are taken relative to the image root, as GNU tar and every container
 * runtime do), "//", "./" and trailing "/" are dropped; ".." pops a component
 * and may never climb above the root.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { DirInode, Inode } from './types.js';

/** Linux MAXSYMLINKS: symlinks followed while resolving one path (fs/namei.c). */
export const MAX_SYMLINK_FOLLOWS = 40;

/**
 * Splits an entry name into normalised components ([] means the root).
 * Returns null when ".." would climb above the root.
 */
export function normalizeComponents(path: string): string[] | null {
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

/** "/a/b" for components ["a","b"], "/" for []. */
export function joinPath(components: readonly string[]): string {
  return '/' + components.join('/');
}

/** A fresh directory inode with the given metadata and no children. */
export function newDir(meta: { mode: number; uid: number; gid: number; mtimeSec: number; mtimeNsec: number }): DirInode {
  return { kind: 'dir', ...meta, xattrs: new Map(), children: new Map() };
}

/**
 * Metadata of directories that have to be created because an entry needs a
 * parent that no layer (or the generator) described: 0755 root:root, mtime 0
 * (the epoch), no xattrs. Never the wall clock (docs/determinism.md).
 */
export const IMPLICIT_DIR = Object.freeze({ mode: 0o755, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0 });

export type ResolveFailure =
  | { ok: false; reason: 'missing'; at: string }
  | { ok: false; reason: 'notdir'; at: string }
  | { ok: false; reason: 'loop'; at: string };

export type ResolveResult = { ok: true; dir: DirInode; created: readonly DirInode[] } | ResolveFailure;

/** `created` of a resolution that created nothing (shared). */
const NONE_CREATED: readonly DirInode[] = Object.freeze([]);

/**
 * Resolves `components` (a normalised directory path) to a directory of the
 * tree. Symlinks met on the way are followed *inside the tree* (an absolute
 * target restarts at the root, ".." stops at the root), as containerd and
 * umoci resolve the parent of an entry; the host filesystem is never
 * involved. With `create`, missing directories are created with
 * IMPLICIT_DIR metadata (and reported in `created`). Only the first `end`
 * components count (default: all).
 */
export function resolveDir(root: DirInode, components: readonly string[], create: boolean, end = components.length): ResolveResult {
  // The common case, every component a directory that is there: no copies, no stacks (one call per tar entry).
  let dir = root;
  let i = 0;
  for (; i < end; i++) {
    const child = dir.children.get(components[i]); // never "", "." or ".." (DirInode.children)
    if (child === undefined || child.kind !== 'dir') break;
    dir = child;
  }
  if (i === end) return { ok: true, dir, created: NONE_CREATED };
  return resolveWalking(root, end === components.length ? components : components.slice(0, end), create);
}

/** resolveDir beyond the common case: symlinks, ".", "..", missing directories. */
function resolveWalking(root: DirInode, components: readonly string[], create: boolean): ResolveResult {
  const stack: DirInode[] = [root];
  const names: string[] = [];
  const todo = [...components].reverse();
  const created: DirInode[] = [];
  let follows = 0;
  while (todo.length > 0) {
    const c = todo.pop() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (stack.length > 1) {
        stack.pop();
        names.pop();
      }
      continue;
    }
    const cur = stack[stack.length - 1];
    let child: Inode | undefined = cur.children.get(c);
    if (child === undefined) {
      if (!create) return { ok: false, reason: 'missing', at: joinPath([...names, c]) };
      child = newDir(IMPLICIT_DIR);
      cur.children.set(c, child);
      created.push(child);
    }
    if (child.kind === 'dir') {
      stack.push(child);
      names.push(c);
    } else if (child.kind === 'symlink') {
      if (++follows > MAX_SYMLINK_FOLLOWS) return { ok: false, reason: 'loop', at: joinPath([...names, c]) };
      const parts = child.target.split('/');
      if (child.target.startsWith('/')) {
        stack.length = 1;
        names.length = 0;
      }
      for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]);
    } else {
      return { ok: false, reason: 'notdir', at: joinPath([...names, c]) };
    }
  }
  return { ok: true, dir: stack[stack.length - 1], created };
}

/** Looks up a path without following a symlink in its last component. */
export function lookup(root: DirInode, components: readonly string[]): Inode | undefined {
  if (components.length === 0) return root;
  const parent = resolveDir(root, components, false, components.length - 1);
  if (!parent.ok) return undefined;
  return parent.dir.children.get(components[components.length - 1]);
}

/** The E_UNSAFE_PATH error for an entry name that climbs above the root. */
export function unsafePath(label: string, entryPath: string, what = 'entry'): Oci2fsError {
  return new Oci2fsError(
    ErrorCode.UNSAFE_PATH,
    `Layer ${label}: ${what} ${JSON.stringify(entryPath)} escapes the image root with ".."; ` +
      'the layer is malformed or hostile (use lenient mode to skip such entries)',
  );
}
