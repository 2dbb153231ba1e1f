/**
 * The content store: an OCI image layout on disk shared by any number of
 * processes (also on NFS). Every blob is content-addressed and verified
 * before it becomes visible; index.json is edited under a lock and replaced
 * atomically. See docs/store.md.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { makeDirectory } from '../util/make-dir.js';
import type { ProgressListener } from '../events.js';
import { createFileIfAbsent, fsyncDir, ioError, writeFileAtomic } from './atomic.js';
import { checkSize, digestOf, sha256Hex } from './digest.js';
import {
  emptyIndex,
  MAX_INDEX_JSON_BYTES,
  parseIndexJson,
  platformKey,
  refNameOf,
  serializeIndexJson,
  withoutRef,
  withRef,
  type IndexJson,
  type StoreDescriptor,
  type StorePlatform,
} from './index-json.js';
import { ingestPartial, type BlobOpener } from './ingest.js';
import { BLOBS_DIR, DIGEST_ALGORITHM, defaultStoreDir, INDEX_FILE, OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION, RESERVED_DIRS, type ReservedDir } from './layout.js';
import { cleanLeftovers, DIFF_TEMP_MAX_AGE_MS, PARTIAL_MAX_AGE_MS, TEMP_MAX_AGE_MS } from './clean.js';
import { FileLock, lockFileName, type LockOptions } from './lock.js';
import { verifyStore, type VerifyReport } from './verify.js';

/** Default cap for readBlob (manifests, indexes and configs are far smaller). */
export const DEFAULT_MAX_READ_BYTES = 64 << 20;
/** Chunk size for streaming reads of blobs. */
export const STREAM_CHUNK = 1 << 20;
/** Lock name guarding index.json. */
const INDEX_LOCK = 'index.json';

export class Store {
  private readonly made = new Set<string>();
  /** In-process waiters per lock file: each entry settles when its holder is done. */
  private readonly queues = new Map<string, Promise<void>>();

  private constructor(
    /** Absolute path of the store (the OCI layout directory). */
    readonly root: string,
  ) {}

  /**
   * Opens (creating if needed) the store at `dir`, else `$OCI2FS_STORE`,
   * `$XDG_CACHE_HOME/oci2fs` or `~/.cache/oci2fs`.
   */
  static async open(dir?: string, env: NodeJS.ProcessEnv = process.env): Promise<Store> {
    const store = new Store(defaultStoreDir(dir, env));
    await store.init();
    return store;
  }

  private async init(): Promise<void> {
    const { root } = this;
    const layoutPath = join(root, OCI_LAYOUT_FILE);
    const indexPath = join(root, INDEX_FILE);
    const exists = async (p: string) => stat(p).then(() => true, () => false);
    // An existing store is only read here, so a read-only shared store works for --offline.
    if (!((await exists(layoutPath)) && (await exists(indexPath)) && (await exists(join(root, BLOBS_DIR, DIGEST_ALGORITHM))))) {
      try {
        await makeDirectory(join(root, BLOBS_DIR, DIGEST_ALGORITHM)); // --store is the user's path (node's mkdir -p can loop)
      } catch (e) {
        throw new Oci2fsError(ErrorCode.STORE, `Cannot create the store at ${root}: ${(e as Error).message}; pick another with --store or $OCI2FS_STORE`, { cause: e });
      }
      const tmp = await this.dir('tmp');
      const layout = Buffer.from(JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION }) + '\n');
      await createFileIfAbsent(layoutPath, layout, tmp);
      await createFileIfAbsent(indexPath, serializeIndexJson(emptyIndex()), tmp);
    }
    let version: unknown;
    try {
      version = (JSON.parse(await readFile(layoutPath, 'utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (e) {
      throw new Oci2fsError(ErrorCode.STORE, `${layoutPath} is unreadable; this directory is not an OCI layout oci2fs can use`, { cause: e });
    }
    if (version !== OCI_LAYOUT_VERSION) {
      throw new Oci2fsError(ErrorCode.STORE, `${layoutPath} declares image layout version ${String(version)}; only ${OCI_LAYOUT_VERSION} is supported`);
    }
  }

  /** Path of one of our reserved directories (tmp, locks, diffs, artifacts), created on first use. */
  async dir(kind: ReservedDir): Promise<string> {
    const p = join(this.root, RESERVED_DIRS[kind]);
    if (!this.made.has(p)) {
      await mkdir(p, { recursive: true }).catch((e) => {
        throw ioError(`create ${p}`, e);
      });
      this.made.add(p);
    }
    return p;
  }

  /** Where the blob with this digest lives (whether or not it is there). */
  blobPath(digest: string): string {
    return join(this.root, BLOBS_DIR, DIGEST_ALGORITHM, sha256Hex(digest));
  }

  /** True when the blob exists as a regular file of exactly `size` bytes. */
  async hasBlob(digest: string, size: number): Promise<boolean> {
    checkSize(size, digest);
    try {
      const st = await stat(this.blobPath(digest));
      return st.isFile() && st.size === size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ioError(`stat ${this.blobPath(digest)}`, e);
    }
  }

  /**
   * hasBlob through open(2): on NFS, open revalidates the file's attributes
   * with the server (close-to-open consistency), so a blob another client just
   * published is seen with its real size, not a cached one.
   */
  private async hasBlobFresh(digest: string, size: number): Promise<boolean> {
    let fh;
    try {
      fh = await open(this.blobPath(digest), 'r');
      const st = await fh.stat();
      return st.isFile() && st.size === size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw ioError(`open ${this.blobPath(digest)}`, e);
    } finally {
      await fh?.close();
    }
  }

  /** Size of the blob file if present (unverified: read it with readBlob/streamBlob). */
  async blobSize(digest: string): Promise<number | undefined> {
    try {
      const st = await stat(this.blobPath(digest));
      return st.isFile() ? st.size : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(`stat ${this.blobPath(digest)}`, e);
    }
  }

  /**
   * Makes the blob present: downloads it once per store (a per-blob lock makes
   * concurrent processes wait for the first), resuming a partial download
   * left by an earlier run, verifying digest and size before it appears.
   */
  async ingestBlob(desc: { digest: string; size: number }, openAt: BlobOpener, events?: ProgressListener): Promise<{ path: string; cached: boolean }> {
    const { digest, size } = desc;
    checkSize(size, digest);
    const path = this.blobPath(digest);
    if (await this.hasBlob(digest, size)) {
      events?.({ type: 'blob-done', digest, size, cached: true });
      return { path, cached: true };
    }
    const hex = sha256Hex(digest);
    return this.withLock(`blob-${DIGEST_ALGORITHM}-${hex}`, async () => {
      if (await this.hasBlobFresh(digest, size)) {
        events?.({ type: 'blob-done', digest, size, cached: true });
        return { path, cached: true };
      }
      const partial = join(await this.dir('tmp'), `${DIGEST_ALGORITHM}-${hex}.partial`);
      await ingestPartial(desc, partial, openAt, events);
      try {
        await rename(partial, path);
      } catch (e) {
        throw ioError(`move ${partial} into the store`, e);
      }
      await fsyncDir(join(this.root, BLOBS_DIR, DIGEST_ALGORITHM));
      events?.({ type: 'blob-done', digest, size, cached: false });
      return { path, cached: false };
    }, { onWait: () => events?.({ type: 'blob-wait', digest }) });
  }

  /** Stores small content held in memory (manifests, configs); verifies `expectedDigest` if given. */
  async putBlob(bytes: Uint8Array, expectedDigest?: string): Promise<{ digest: string; size: number }> {
    const digest = digestOf(bytes);
    if (expectedDigest !== undefined) {
      sha256Hex(expectedDigest);
      if (expectedDigest !== digest) {
        throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `Content expected to be ${expectedDigest} hashes to ${digest} (${bytes.length} bytes); nothing was stored`);
      }
    }
    const size = bytes.length;
    if (!(await this.hasBlob(digest, size))) {
      await writeFileAtomic(this.blobPath(digest), bytes, await this.dir('tmp'));
    }
    return { digest, size };
  }

  /** Reads a whole blob, verifying size and digest. A corrupt blob is removed and E_DIGEST_MISMATCH thrown. */
  async readBlob(digest: string, size: number, maxSize: number = DEFAULT_MAX_READ_BYTES): Promise<Uint8Array> {
    checkSize(size, digest);
    if (size > maxSize) {
      throw new Oci2fsError(ErrorCode.LIMIT, `Blob ${digest} is ${size} bytes, more than the ${maxSize} bytes allowed for this kind of document`);
    }
    const path = this.blobPath(digest);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Oci2fsError(ErrorCode.NOT_FOUND, `Blob ${digest} is not in the store ${this.root}; pull the image (without --offline)`);
      }
      throw ioError(`read ${path}`, e);
    }
    if (bytes.length !== size || digestOf(bytes) !== digest) await this.corrupt(digest, path);
    return bytes;
  }

  /** Streams a blob, verifying size and digest at the end (the last chunk is released only after the check). */
  async *streamBlob(digest: string, size: number): AsyncGenerator<Uint8Array> {
    checkSize(size, digest);
    const path = this.blobPath(digest);
    const fh = await open(path, 'r').catch((e) => {
      throw (e as NodeJS.ErrnoException).code === 'ENOENT'
        ? new Oci2fsError(ErrorCode.NOT_FOUND, `Blob ${digest} is not in the store ${this.root}`)
        : ioError(`open ${path}`, e);
    });
    const hash = createHash('sha256');
    let pos = 0;
    let pending: Uint8Array | undefined;
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(STREAM_CHUNK);
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        hash.update(chunk);
        pos += bytesRead;
        if (pos > size) break;
        if (pending) yield pending;
        pending = chunk;
      }
    } finally {
      await fh.close();
    }
    if (pos !== size || `sha256:${hash.digest('hex')}` !== digest) await this.corrupt(digest, path);
    if (pending) yield pending;
  }

  private async corrupt(digest: string, path: string): Promise<never> {
    await unlink(path).catch(() => {});
    throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `Blob ${digest} in the store is corrupt (wrong size or content); it was removed — pull again to re-fetch it`);
  }

  private async readIndex(): Promise<IndexJson> {
    const path = join(this.root, INDEX_FILE);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
      throw ioError(`read ${path}`, e);
    }
    if (bytes.length > MAX_INDEX_JSON_BYTES) throw new Oci2fsError(ErrorCode.LIMIT, `${path} is larger than ${MAX_INDEX_JSON_BYTES} bytes`);
    return parseIndexJson(bytes, path);
  }

  private async editIndex(edit: (index: IndexJson) => IndexJson): Promise<void> {
    await this.withLock(INDEX_LOCK, async () => {
      const next = edit(await this.readIndex());
      await writeFileAtomic(join(this.root, INDEX_FILE), serializeIndexJson(next), await this.dir('tmp'));
    });
  }

  /**
   * Names `desc` in index.json (`org.opencontainers.image.ref.name` = name),
   * replacing an entry with the same name and platform. The blob must be in the store.
   */
  async addRef(name: string, desc: StoreDescriptor, annotations?: Record<string, string>): Promise<void> {
    if (!(await this.hasBlob(desc.digest, desc.size))) {
      throw new Oci2fsError(ErrorCode.INTERNAL, `addRef(${name}): blob ${desc.digest} is not in the store`);
    }
    const entry: StoreDescriptor = { ...desc, annotations: { ...desc.annotations, ...annotations } };
    await this.editIndex((index) => withRef(index, name, entry));
  }

  /** Removes the entries named `name` (only `platform`'s when given). */
  async removeRef(name: string, platform?: StorePlatform): Promise<void> {
    await this.editIndex((index) => withoutRef(index, name, platform));
  }

  /** Every named entry of index.json, sorted by name then platform. */
  async listRefs(): Promise<StoreDescriptor[]> {
    return (await this.readIndex()).manifests.filter((d) => refNameOf(d) !== undefined);
  }

  /**
   * The entry named `name`: with `platform`, the one of that platform (or a
   * platform-less one); without, the only one (or the first by platform order).
   */
  async resolveRef(name: string, platform?: StorePlatform): Promise<StoreDescriptor | undefined> {
    const named = (await this.listRefs()).filter((d) => refNameOf(d) === name);
    if (!platform) return named[0];
    const key = platformKey(platform);
    return named.find((d) => platformKey(d.platform) === key) ?? named.find((d) => !d.platform);
  }

  /**
   * Runs `fn` holding the store-wide lock `name` (cross-process, NFS-safe; see
   * lock.ts). Callers in this process queue in memory first, so only one of
   * them polls the lock file.
   */
  async withLock<T>(name: string, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
    const file = join(await this.dir('locks'), lockFileName(name));
    const prev = this.queues.get(file);
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    this.queues.set(file, mine);
    try {
      if (prev) {
        opts?.onWait?.();
        await prev;
      }
      const lock = await FileLock.acquire(file, opts);
      try {
        return await fn();
      } finally {
        await lock.release();
      }
    } finally {
      if (this.queues.get(file) === mine) this.queues.delete(file);
      done();
    }
  }

  /**
   * Removes leftovers of killed processes: unique temp files and lock helper
   * files older than `maxAgeMs`, and partial downloads older than
   * `partialMaxAgeMs` whose blob is not being downloaded. Returns the paths removed.
   */
  async cleanTemp(maxAgeMs: number = TEMP_MAX_AGE_MS, partialMaxAgeMs: number = PARTIAL_MAX_AGE_MS, diffTempMaxAgeMs: number = DIFF_TEMP_MAX_AGE_MS): Promise<string[]> {
    return cleanLeftovers(
      await this.dir('tmp'),
      await this.dir('locks'),
      maxAgeMs,
      partialMaxAgeMs,
      (hex, fn) => this.withLock(`blob-${DIGEST_ALGORITHM}-${hex}`, fn, { timeoutMs: 0 }),
      { dir: join(this.root, 'diffs', DIGEST_ALGORITHM), maxAgeMs: diffTempMaxAgeMs },
    );
  }

  /** Re-hashes every blob and checks that every named image is complete. `repair` removes corrupt blobs. */
  async verify(opts: { repair?: boolean; onBlob?: (digest: string) => void } = {}): Promise<VerifyReport> {
    return verifyStore(this.root, await this.listRefs(), opts);
  }
}

