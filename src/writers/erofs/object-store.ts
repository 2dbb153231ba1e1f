/**
 * Storing one composefs content object at `XX/REST` (the fs-verity digest in
 * hex, split after two characters, as composefs lays out its object store),
 * reading the file's bytes once: small files are read whole, hashed, and
 * written (temporary file + rename) only when the object is missing; large
 * ones stream into a temporary file while being hashed, renamed into place
 * unless the object exists. Runs in worker threads (and on the main thread
 * for small amounts of data).
 */
import { openSync, writeSync, closeSync, fchmodSync, renameSync, unlinkSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { createFsverityHasher, readPieces, piecesLength, type Piece } from '../../fsverity/index.js';

/** Read buffer: a multiple of the fs-verity block size that stays in cache. */
const READ_BUF = 1 << 16;
/** Mode of object files (composefs objects are world-readable). */
const OBJECT_MODE = 0o644;
/** Files up to this size are read whole, hashed, and written only when their object is missing. */
const SMALL_FILE_MAX = 1 << 20;

export interface ObjectFileTask {
  pieces: Piece[];
}

export interface ObjectBatch {
  files: ObjectFileTask[];
  /** Store contents here; without it only digests are computed. */
  objectsDir?: string;
  /** fchmod new objects to 0644 (needed when the umask would clear bits of it); default true. */
  chmod?: boolean;
  /**
   * Which store pass the batch belongs to: directory listings kept from an
   * earlier pass (in this thread) are dropped, since the objects directory
   * may have changed in between.
   */
  pass?: number;
}

export interface ObjectBatchResult {
  digests: string[];
  /**
   * Per file: the object was missing when checked and this file stored it.
   * Two workers storing the same new content may both say so; the caller
   * counts distinct digests, which does not depend on timing.
   */
  created: boolean[];
}

const buf = Buffer.allocUnsafe(READ_BUF);
/** Whole-file buffer for small files: hashed first, written only when the object is missing. */
const small = Buffer.allocUnsafe(SMALL_FILE_MAX);
/**
 * Object names in each `XX` directory: listed once when this thread first
 * stores into it, then kept up to date with what the thread stores. One
 * readdir per directory instead of a lookup per object (41k objects: 0.4 s
 * of each object thread's time went to the lookups). An object another
 * process stores meanwhile is stored again: the same bytes, renamed over
 * it atomically.
 */
const present = new Map<string, Set<string>>();
let presentPass: number | undefined;
let tmpCounter = 0;

function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

/** A temporary name in `dir` (hidden, unique per process and thread). */
function tmpName(dir: string): string {
  return join(dir, `.tmp-${process.pid}-${threadId}-${tmpCounter++}`);
}

/** Where the object of a digest goes (its `XX` directory created), and whether it is there already. */
function destFor(objectsDir: string, hex: string): { sub: string; dest: string; name: string; exists: boolean } {
  const sub = join(objectsDir, hex.slice(0, 2));
  let names = present.get(sub);
  if (!names) {
    mkdirSync(sub, { recursive: true });
    names = new Set(readdirSync(sub));
    present.set(sub, names);
  }
  const name = hex.slice(2);
  return { sub, dest: join(sub, name), name, exists: names.has(name) };
}

/** Records an object this thread stored. */
function stored(sub: string, name: string): void {
  present.get(sub)?.add(name);
}

function removeQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // already gone
  }
}

/**
 * Writes `data` to a new temporary file beside `dest` and renames it into
 * place. Same directory: a rename across directories cost the kernel about
 * twice as much as the whole create+write (ext4, measured: 10k 30 KB files
 * 3.0 s vs 5.0 s system time).
 */
function publish(sub: string, dest: string, data: Buffer, chmod: boolean): void {
  const tmp = tmpName(sub);
  const fd = openSync(tmp, 'wx', OBJECT_MODE);
  try {
    try {
      writeAll(fd, data);
      if (chmod) fchmodSync(fd, OBJECT_MODE);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dest);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/**
 * Hashes one file and, with `objectsDir`, stores it; returns [hex digest,
 * whether this call found the object missing and stored it].
 */
function storeOne(f: ObjectFileTask, objectsDir: string | undefined, chmod: boolean): [string, boolean] {
  const h = createFsverityHasher();
  if (!objectsDir) {
    readPieces(f.pieces, buf, (c) => h.update(c));
    return [h.digest().toString('hex'), false];
  }
  if (piecesLength(f.pieces) <= SMALL_FILE_MAX) {
    // One read into memory: hash, then write only when missing.
    let data: Buffer = small.subarray(0, 0);
    readPieces(f.pieces, small, (c) => {
      data = c;
    });
    h.update(data);
    const hex = h.digest().toString('hex');
    const { sub, dest, name, exists } = destFor(objectsDir, hex);
    if (exists) return [hex, false];
    publish(sub, dest, data, chmod);
    stored(sub, name);
    return [hex, true];
  }
  // Large: one pass feeds the hasher and a temporary file.
  const tmp = tmpName(objectsDir);
  const fd = openSync(tmp, 'wx', OBJECT_MODE);
  try {
    try {
      readPieces(f.pieces, buf, (c) => {
        h.update(c);
        writeAll(fd, c);
      });
      if (chmod) fchmodSync(fd, OBJECT_MODE);
    } finally {
      closeSync(fd);
    }
    const hex = h.digest().toString('hex');
    const { sub, dest, name, exists } = destFor(objectsDir, hex);
    if (exists) {
      unlinkSync(tmp);
      return [hex, false];
    }
    renameSync(tmp, dest);
    stored(sub, name);
    return [hex, true];
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

/** Processes a batch in order. */
export function storeObjects(batch: ObjectBatch): ObjectBatchResult {
  const digests: string[] = [];
  const created: boolean[] = [];
  const chmod = batch.chmod ?? true;
  if (batch.pass !== presentPass) {
    present.clear();
    presentPass = batch.pass;
  }
  for (const f of batch.files) {
    const [hex, made] = storeOne(f, batch.objectsDir, chmod);
    digests.push(hex);
    created.push(made);
  }
  return { digests, created };
}
