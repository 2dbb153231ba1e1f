/**
 * The conversion cache: produced images stored in the store under
 * `artifacts/<key>/` with their metadata, shared by every process on the node.
 *
 * Commit point: an artifact is built in `artifacts/tmp/<key>.<random>/`
 * (image + meta.json), then that directory is renamed to `artifacts/<key>`.
 * rename(2) of a directory is atomic, so a reader sees either nothing or a
 * complete artifact. One producer per key builds under a store lock; readers
 * take no lock. See docs/cache.md.
 */
import { constants as fsc } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile, chmod, mkdtemp } from 'node:fs/promises';
import { join, dirname, basename } from 'node:path';
import { Oci2fsError, ErrorCode } from '../errors.js';

/** Artifact metadata kept beside the image (meta.json). */
export interface ArtifactMeta {
  key: string;
  format: string;
  /** File name of the image inside the artifact directory. */
  file: string;
  size: number;
  /**
   * The image's mtime (ms) when committed. A hit needs the same size and
   * mtime: an image changed in place through a hardlinked output (`--link`)
   * no longer matches and is rebuilt. Absent in older entries (size only).
   */
  mtimeMs?: number;
  /** RFC 3339 UTC. */
  imported: string;
  canonical: string;
  manifestDigest: string;
  configDigest: string;
  platform: string;
  /** Extra facts a writer reports (e.g. the composefs fs-verity digest). */
  extra?: Record<string, string | number>;
}

export interface Artifact extends ArtifactMeta {
  /** Absolute path of the image file in the cache. */
  path: string;
  /** RFC 3339 UTC of the last hit (or the import). */
  lastUsed: string;
}

const META = 'meta.json';
const LAST_USED = 'last-used';
const KEY_RE = /^[0-9a-f]{64}$/;

export type DeliveryMethod = 'reflink-or-copy' | 'hardlink';

/**
 * A hidden temporary name beside `out`, unique to this process: outputs are
 * written there and renamed to `out` when complete.
 */
export function tempBeside(out: string): string {
  return join(dirname(out), `.${basename(out)}.oci2fs-${process.pid}-${Math.random().toString(36).slice(2)}`);
}

export class ArtifactCache {
  readonly dir: string;

  constructor(storeRoot: string) {
    this.dir = join(storeRoot, 'artifacts');
  }

  private pathOf(key: string): string {
    if (!KEY_RE.test(key)) throw new Oci2fsError(ErrorCode.INTERNAL, `bad artifact key ${key}`);
    return join(this.dir, key);
  }

  /** The artifact for `key`, if complete and intact (size and mtime re-checked). No lock. */
  async lookup(key: string): Promise<Artifact | undefined> {
    const dir = this.pathOf(key);
    let meta: ArtifactMeta;
    try {
      meta = JSON.parse(await readFile(join(dir, META), 'utf8')) as ArtifactMeta;
    } catch {
      return undefined;
    }
    const path = join(dir, meta.file);
    try {
      const st = await stat(path);
      if (!st.isFile() || st.size !== meta.size || meta.key !== key) return undefined;
      if (meta.mtimeMs !== undefined && st.mtimeMs !== meta.mtimeMs) return undefined;
    } catch {
      return undefined;
    }
    let lastUsed = meta.imported;
    try {
      lastUsed = (await readFile(join(dir, LAST_USED), 'utf8')).trim() || lastUsed;
    } catch {
      /* never used since import */
    }
    return { ...meta, path, lastUsed };
  }

  /**
   * Builds and commits an artifact. `build` writes the image to the path it is
   * given and may return extra facts. The caller holds the producer lock.
   */
  async commit(
    meta: Omit<ArtifactMeta, 'size' | 'mtimeMs' | 'imported' | 'file'> & { file: string },
    build: (imagePath: string) => Promise<Record<string, string | number> | void>,
    now: Date,
  ): Promise<Artifact> {
    const tmpRoot = join(this.dir, 'tmp');
    await mkdir(tmpRoot, { recursive: true });
    const work = await mkdtemp(join(tmpRoot, `${meta.key}.`));
    try {
      const imagePath = join(work, meta.file);
      const extra = (await build(imagePath)) ?? undefined;
      await chmod(imagePath, 0o444);
      const st = await stat(imagePath);
      const full: ArtifactMeta = { ...meta, size: st.size, mtimeMs: st.mtimeMs, imported: now.toISOString(), ...(extra ? { extra } : {}) };
      await writeFile(join(work, META), JSON.stringify(full, null, 2) + '\n');
      try {
        await rename(work, this.pathOf(meta.key));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        // Another producer committed first (e.g. the lock was taken over); theirs wins.
      }
      const done = await this.lookup(meta.key);
      if (!done) throw new Oci2fsError(ErrorCode.STORE, `Artifact ${meta.key} vanished right after it was committed in ${this.dir}`);
      return done;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Records a hit (last-used time), atomically. */
  async touch(key: string, now: Date): Promise<void> {
    const dir = this.pathOf(key);
    const tmp = join(dir, `${LAST_USED}.${process.pid}.${Math.random().toString(36).slice(2)}`);
    try {
      await writeFile(tmp, now.toISOString() + '\n');
      await rename(tmp, join(dir, LAST_USED));
    } catch {
      await rm(tmp, { force: true });
      /* a read-only cache still serves hits */
    }
  }

  /**
   * Delivers a copy written at `tmp` (a tempBeside of `out`) while the
   * artifact was built: made writable like a copy and renamed to `out`.
   */
  async adoptDelivery(tmp: string, out: string): Promise<void> {
    try {
      await chmod(tmp, 0o644);
      await rename(tmp, out);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new Oci2fsError(ErrorCode.IO, `Cannot write ${out}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Puts a copy of the artifact at `out`: a reflink (FICLONE) where the
   * filesystem supports it, else a copy; or a hardlink to the read-only cache
   * file. Written under a temporary name, then renamed.
   */
  async deliver(artifact: Artifact, out: string, method: DeliveryMethod): Promise<void> {
    const tmp = tempBeside(out);
    try {
      let linked = false;
      if (method === 'hardlink') {
        // EXDEV (another filesystem) or EPERM (no hardlinks there): fall back to a copy.
        linked = await link(artifact.path, tmp).then(
          () => true,
          () => false,
        );
      }
      if (!linked) {
        await copyFile(artifact.path, tmp, fsc.COPYFILE_FICLONE);
        await chmod(tmp, 0o644);
      }
      await rename(tmp, out);
    } catch (e) {
      await rm(tmp, { force: true });
      throw new Oci2fsError(ErrorCode.IO, `Cannot write ${out} from the cache: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Every complete artifact, newest import first. */
  async list(): Promise<Artifact[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: Artifact[] = [];
    for (const n of names.filter((x) => KEY_RE.test(x)).sort()) {
      const a = await this.lookup(n);
      if (a) out.push(a);
    }
    return out.sort((a, b) => (a.imported < b.imported ? 1 : a.imported > b.imported ? -1 : 0));
  }

  /**
   * Removes artifacts last used before `olderThan`, and leftovers of killed
   * producers. A delivered hardlink stays valid (the inode lives on).
   */
  async gc(opts: { olderThan: Date }): Promise<{ removed: string[]; freed: number }> {
    const removed: string[] = [];
    let freed = 0;
    for (const a of await this.list()) {
      if (new Date(a.lastUsed) < opts.olderThan) {
        await rm(this.pathOf(a.key), { recursive: true, force: true });
        removed.push(a.key);
        freed += a.size;
      }
    }
    return { removed, freed };
  }
}
