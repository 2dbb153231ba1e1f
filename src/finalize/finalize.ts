/**
 * finalizeTree: the last changes to a flattened tree before it is written —
 * enroot configuration files, provenance, host files from --add, the
 * SOURCE_DATE_EPOCH clamp — then validation. See docs/determinism.md.
 */
import { lstat } from 'node:fs/promises';
import { resolve as resolveHost } from 'node:path';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { normalizeComponents, resolveDir } from '../tree/path.js';
import { scanDirectory } from '../tree/scan.js';
import { validateTree } from '../tree/validate.js';
import { walk } from '../tree/types.js';
import type { DirInode, Inode, ValidatedTree } from '../tree/types.js';
import { enrootFiles, enrootWorkdir } from './enroot.js';
import { applyEnrootFixups } from './enroot-fixups.js';
import type { EnrootConfig } from './enroot.js';
import { clampMtimes, generatedTime } from './epoch.js';
import type { Time } from './epoch.js';
import { PROVENANCE_PATH, provenanceText } from './provenance.js';
import type { Provenance } from './provenance.js';
import type { AddSpec } from './add-spec.js';

export { parseAddSpec } from './add-spec.js';
export type { AddSpec } from './add-spec.js';
export type { EnrootConfig } from './enroot.js';
export type { Provenance } from './provenance.js';

export interface FinalizeOptions {
  /** Writes /.enroot/source (uri first, exactly as given). */
  provenance?: Provenance | false;
  /** Adds /etc/environment, /etc/rc, /etc/fstab, /etc/rc.local as `enroot import` writes them. */
  enroot?: EnrootConfig;
  /** Host files/directories to place in the image (`--add`). */
  add?: AddSpec[];
  /** Clamp mtimes newer than this (seconds); also the mtime of generated entries. */
  sourceDateEpoch?: number;
  /**
   * Also do what `enroot import` does to the image itself: empty /dev, owner
   * r/x (and w on shallow directories) like common::fixperms, everything
   * owned by root (finalize/enroot-fixups.ts). Off by default.
   */
  enrootFixups?: boolean;
}

/** Mode of generated files and of --add files without MODE (non-executable source). */
export const GENERATED_FILE_MODE = 0o644;
/** Mode of directories finalize creates, and of --add files whose source is executable. */
export const GENERATED_DIR_MODE = 0o755;

function split(path: string, what: string): { parent: string[]; name: string } {
  const comps = normalizeComponents(path);
  if (comps === null || comps.length === 0) throw new Oci2fsError(ErrorCode.USAGE, `${what} ${JSON.stringify(path)} must name an entry below /`);
  return { parent: comps.slice(0, -1), name: comps[comps.length - 1] };
}

/** The directory that will hold `path`, created (0755 root:root, generated mtime) when missing. */
function parentDir(root: DirInode, path: string, t: Time, what: string): { dir: DirInode; name: string } {
  const { parent, name } = split(path, what);
  const r = resolveDir(root, parent, true);
  if (!r.ok) throw new Oci2fsError(ErrorCode.TREE_INVALID, `Cannot place ${what} ${JSON.stringify(path)}: ${JSON.stringify(r.at)} in the image is not a directory`);
  for (const d of r.created) Object.assign(d, { mode: GENERATED_DIR_MODE, mtimeSec: t.sec, mtimeNsec: t.nsec });
  return { dir: r.dir, name };
}

function place(root: DirInode, path: string, inode: Inode, t: Time, what: string): void {
  const { dir, name } = parentDir(root, path, t, what);
  const existing = dir.children.get(name);
  if (existing?.kind === 'dir' && inode.kind !== 'dir') {
    throw new Oci2fsError(ErrorCode.TREE_INVALID, `Cannot place ${what} ${JSON.stringify(path)}: the image has a directory there`);
  }
  dir.children.set(name, inode);
}

function generatedFile(text: string, t: Time): Inode {
  const data = new Uint8Array(Buffer.from(text, 'utf8'));
  return { kind: 'file', mode: GENERATED_FILE_MODE, uid: 0, gid: 0, mtimeSec: t.sec, mtimeNsec: t.nsec, xattrs: new Map(), size: data.length, content: { kind: 'inline', data } };
}

function mkdirs(root: DirInode, path: string, t: Time): void {
  const comps = normalizeComponents(path);
  if (comps === null) throw new Oci2fsError(ErrorCode.USAGE, `Working directory ${JSON.stringify(path)} escapes /`);
  const r = resolveDir(root, comps, true);
  if (!r.ok) throw new Oci2fsError(ErrorCode.TREE_INVALID, `Cannot create working directory ${JSON.stringify(path)}: ${JSON.stringify(r.at)} is not a directory`);
  for (const d of r.created) Object.assign(d, { mode: GENERATED_DIR_MODE, mtimeSec: t.sec, mtimeNsec: t.nsec });
}

async function addHost(root: DirInode, a: AddSpec, t: Time): Promise<void> {
  const src = resolveHost(a.src);
  let st;
  try {
    st = await lstat(src);
  } catch (e) {
    throw new Oci2fsError(ErrorCode.IO, `--add source ${a.src} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  const { dir, name } = parentDir(root, a.dest, t, '--add destination');
  const existing = dir.children.get(name);
  let inode: Inode;
  if (st.isFile()) {
    if (existing?.kind === 'dir') throw new Oci2fsError(ErrorCode.USAGE, `--add destination ${a.dest} is a directory in the image; give the full destination path of the file`);
    const mode = a.mode ?? (st.mode & 0o111 ? GENERATED_DIR_MODE : GENERATED_FILE_MODE);
    inode = { kind: 'file', mode, uid: 0, gid: 0, mtimeSec: t.sec, mtimeNsec: t.nsec, xattrs: new Map(), size: st.size, content: { kind: 'file', path: src, offset: 0, length: st.size } };
  } else if (st.isDirectory()) {
    // Host owners, mtimes and xattrs say nothing about the image: everything
    // added is root:root (or UID:GID) with the generated mtime; modes and
    // types are kept.
    const sub = await scanDirectory(src, { xattrs: false });
    walk(sub, (_p, i) => Object.assign(i, { uid: a.uid ?? 0, gid: a.gid ?? 0, mtimeSec: t.sec, mtimeNsec: t.nsec, xattrs: new Map() }));
    sub.mode = a.mode ?? st.mode & 0o7777;
    inode = sub;
  } else {
    throw new Oci2fsError(ErrorCode.USAGE, `--add source ${a.src} is neither a regular file nor a directory`);
  }
  if (a.uid !== undefined) inode.uid = a.uid;
  if (a.gid !== undefined) inode.gid = a.gid;
  dir.children.set(name, inode);
}

/**
 * Applies the options to `root` (in place) and validates it. Order:
 * generated time from the image tree, enroot fixups, enroot files,
 * provenance, --add, clamp.
 */
export async function finalizeTree(root: DirInode, opts: FinalizeOptions): Promise<ValidatedTree> {
  const t = generatedTime(root, opts.sourceDateEpoch);
  if (opts.enrootFixups) applyEnrootFixups(root);
  if (opts.enroot) {
    mkdirs(root, enrootWorkdir(opts.enroot), t);
    for (const [path, text] of enrootFiles(opts.enroot)) place(root, path, generatedFile(text, t), t, 'enroot file');
  }
  if (opts.provenance) place(root, PROVENANCE_PATH, generatedFile(provenanceText(opts.provenance), t), t, 'provenance file');
  for (const a of opts.add ?? []) await addHost(root, a, t);
  if (opts.sourceDateEpoch !== undefined) clampMtimes(root, opts.sourceDateEpoch);
  return validateTree(root);
}
