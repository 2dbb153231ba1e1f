/**
 * composefs content objects: each regular file not stored inline is
 * referenced by its fs-verity digest. This pass finds (or computes) the
 * digests and, given an objects directory, copies each content once to
 * `OBJECTS/XX/REST` (temp file + link, existing objects are kept), on
 * worker threads (see object-store.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { makeDirectory } from '../../util/make-dir.js';
import { walk, type FileInode, type ValidatedTree } from '../../tree/types.js';
import { closePieceFiles, type Piece } from '../../fsverity/index.js';
import { WorkerPool, defaultThreads } from '../../util/worker-pool.js';
import { storeObjects, type ObjectBatch, type ObjectBatchResult } from './object-store.js';
import { digestPayload, knownDigest, storedInline } from '../../dumpfile/index.js';
import { srcUrl } from '../../util/src-url.js';

/** How one regular file is referenced from the image. */
export interface ObjectRef {
  /** Object path `XX/REST` (or the dumpfile payload for external content); '' for none. */
  payload: string;
  /** fs-verity digest (hex), when known. */
  digest?: string;
}

export interface ObjectsResult {
  refs: Map<FileInode, ObjectRef>;
  /** Objects written by this call. */
  newObjects: number;
  /** Distinct objects referenced by the image. */
  objects: number;
}

/** Below this many bytes to hash, no worker threads are started (their start-up costs more). */
export const OBJECT_WORKERS_MIN_BYTES = 8 << 20;
/** A batch sent to a worker closes at this many files or bytes (amortizes message costs). */
const BATCH_FILES = 128;
const BATCH_BYTES = 4 << 20;

/** Store passes so far in this thread (object-store.ts keeps directory listings for one pass). */
let passes = 0;

/** The logical bytes of a stored file as worker pieces (holes as zero runs). */
function piecesOf(f: FileInode): Piece[] {
  const c = f.content;
  if (c.kind === 'inline') {
    if (c.data.length !== f.size) throw new Oci2fsError(ErrorCode.INTERNAL, `inline content has ${c.data.length} bytes, expected ${f.size}`);
    return [{ bytes: c.data }];
  }
  if (c.kind !== 'file') throw new Oci2fsError(ErrorCode.INTERNAL, 'external content has no bytes to hash');
  const path = c.pathIsBytes ? new Uint8Array(Buffer.from(c.path, 'latin1')) : c.path;
  if (!c.sparse) {
    if (c.length !== f.size) throw new Oci2fsError(ErrorCode.INTERNAL, `content length ${c.length} != size ${f.size}`);
    return [{ path, offset: c.offset, length: c.length }];
  }
  const out: Piece[] = [];
  let logical = 0;
  let packed = c.offset;
  for (const seg of c.sparse) {
    if (seg.offset < logical) throw new Oci2fsError(ErrorCode.TAR_INVALID, 'sparse map segments overlap or are unsorted');
    if (seg.offset > logical) out.push({ zeros: seg.offset - logical });
    if (seg.length > 0) out.push({ path, offset: packed, length: seg.length });
    packed += seg.length;
    logical = seg.offset + seg.length;
  }
  if (logical > f.size) throw new Oci2fsError(ErrorCode.TAR_INVALID, 'sparse map extends past the file size');
  if (f.size > logical) out.push({ zeros: f.size - logical });
  return out;
}

/**
 * Hashes (and with `objectsDir` stores) `files` in batches, on worker
 * threads when there is enough data; returns digests in `files` order and
 * the number of objects created.
 */
async function hashAndStore(files: FileInode[], objectsDir: string | undefined, threads: number | undefined, minBytes: number): Promise<{ digests: string[]; created: number }> {
  const batches: ObjectBatch[] = [];
  // Objects are created 0644; fchmod only when the umask would clear some of those bits.
  const chmod = (process.umask() & 0o644) !== 0;
  const pass = ++passes;
  const fresh = (): ObjectBatch => ({ files: [], chmod, pass, ...(objectsDir ? { objectsDir } : {}) });
  let cur = fresh();
  let curBytes = 0;
  let total = 0;
  for (const f of files) {
    cur.files.push({ pieces: piecesOf(f) });
    curBytes += f.size;
    total += f.size;
    if (cur.files.length >= BATCH_FILES || curBytes >= BATCH_BYTES) {
      batches.push(cur);
      cur = fresh();
      curBytes = 0;
    }
  }
  if (cur.files.length > 0) batches.push(cur);
  const wrap = (e: unknown): Oci2fsError =>
    e instanceof Oci2fsError && e.code !== ErrorCode.IO
      ? e
      : new Oci2fsError(ErrorCode.IO, `Cannot hash or store composefs content objects${objectsDir ? ` in ${objectsDir}` : ''}: ${(e as Error).message}`, { cause: e });
  const digests: string[] = [];
  const createdDigests = new Set<string>();
  const add = (r: ObjectBatchResult): void => {
    r.digests.forEach((d, i) => {
      digests.push(d);
      if (r.created[i]) createdDigests.add(d);
    });
  };
  if (total < minBytes || threads === 0) {
    try {
      for (const b of batches) {
        add(storeObjects(b));
      }
    } catch (e) {
      throw wrap(e);
    } finally {
      closePieceFiles();
    }
    return { digests, created: createdDigests.size };
  }
  const pool = new WorkerPool<ObjectBatchResult>(srcUrl('writers/erofs/object-worker.js'), threads ?? defaultThreads(), 'composefs object');
  try {
    const results = batches.map((b) => pool.run(b));
    for (const p of results) p.catch(() => undefined); // awaited in order below
    for (const p of results) {
      let r: ObjectBatchResult;
      try {
        r = await p;
      } catch (e) {
        throw wrap(e);
      }
      add(r);
    }
  } finally {
    await pool.close();
  }
  return { digests, created: createdDigests.size };
}

/** Orders files by where their bytes are: host file path, then offset (inline contents last). */
function compareSource(a: FileInode, b: FileInode): number {
  const ca = a.content;
  const cb = b.content;
  if (ca.kind !== 'file' || cb.kind !== 'file') return (ca.kind === 'file' ? 0 : 1) - (cb.kind === 'file' ? 0 : 1);
  if (ca.path !== cb.path) return ca.path < cb.path ? -1 : 1;
  return ca.offset - cb.offset;
}

/**
 * Resolves the object reference of every regular file stored by reference
 * (not inline, size > 0), computing digests that are not known and copying
 * contents into `objectsDir` when given.
 */
export async function prepareObjects(
  tree: ValidatedTree,
  opts: {
    objectsDir?: string;
    digests?: Map<FileInode, string>;
    inlineMax?: number;
    /** Worker threads for hashing/storing (0: none); default one per core. */
    threads?: number;
    /** Below this many bytes to hash, work on the calling thread; default OBJECT_WORKERS_MIN_BYTES. */
    workersMinBytes?: number;
  },
): Promise<ObjectsResult> {
  const files: FileInode[] = [];
  const seen = new Set<FileInode>();
  walk(tree.root, (_p, inode) => {
    if (inode.kind === 'file' && !seen.has(inode)) {
      seen.add(inode);
      files.push(inode);
    }
  });
  const refs = new Map<FileInode, ObjectRef>();
  const distinct = new Set<string>();
  if (opts.objectsDir) await makeDirectory(opts.objectsDir); // the user's --objects (node's mkdir -p can loop)
  /** Files to hash (and store), with the digest they must have when one is known. */
  const todo: { f: FileInode; want: string | undefined }[] = [];
  const known = new Map<FileInode, string>();
  for (const f of files) {
    if (f.size === 0 || storedInline(f, opts.inlineMax)) continue;
    const digest = knownDigest(f, opts.digests);
    if (f.content.kind === 'external') {
      refs.set(f, { payload: f.content.payload, ...(digest ? { digest } : {}) });
      if (f.content.payload !== '') distinct.add(f.content.payload);
      continue;
    }
    if (digest && (!opts.objectsDir || existsSync(join(opts.objectsDir, digestPayload(digest))))) {
      // Known and (when storing) already stored: nothing to read.
      known.set(f, digest);
    } else {
      todo.push({ f, want: digest });
    }
  }
  // Read in the order the bytes lie in the layer tars, not in tree order: a
  // sequential read the kernel reads ahead when the tars are not cached
  // (the objects and digests do not depend on the order).
  todo.sort((a, b) => compareSource(a.f, b.f));
  const { digests, created } = await hashAndStore(todo.map((t) => t.f), opts.objectsDir, opts.threads, opts.workersMinBytes ?? OBJECT_WORKERS_MIN_BYTES);
  todo.forEach(({ f, want }, i) => {
    if (want && digests[i] !== want) {
      throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `Content has fs-verity digest ${digests[i]}, expected ${want}: the file changed or the digest cache is stale`);
    }
    known.set(f, digests[i]);
  });
  // References in tree order (the map's order is what callers iterate).
  for (const f of files) {
    const digest = known.get(f);
    if (digest === undefined) continue;
    const payload = digestPayload(digest);
    refs.set(f, { payload, digest });
    distinct.add(payload);
  }
  return { refs, newObjects: created, objects: distinct.size };
}
