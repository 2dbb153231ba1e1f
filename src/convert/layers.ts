/**
 * Layer blobs → uncompressed layer tars in the store (`diffs/sha256/<hex>`),
 * each verified against the config's diff_id. File contents in the tree point
 * into these tars, so contents are never held in memory and are read once
 * more only by the writer. See docs/tree.md ("content spill").
 */
import { mkdir, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { decompressToFile, spillsInProcesses, type DecompressToFileOptions } from '../compress/to-file.js';
import { nativeInflate } from '../compress/native-inflate.js';
import { limiter } from '../util/pool.js';
import { deferred, handled, type Deferred } from '../util/deferred.js';
import { bootIdentity, markerPath, usableDiff } from './unsynced.js';
import { lazySpiller, likelyInProcesses } from './spillers.js';
import { CapturedBlocks } from '../tar/captured.js';
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { ProgressListener } from '../events.js';

export interface SpillInput {
  /** Compressed (or plain) layer blob path in the store. */
  blobPath: string;
  /** Layer digest (sha256 of the blob). */
  digest: string;
  /** Expected sha256 of the uncompressed tar (config rootfs.diff_ids). */
  diffId: string;
  /**
   * The blob was written by this process moments ago (pulled in this run):
   * it is in the page cache, maybe dirty, so it is read through it. Other
   * blobs are read with O_DIRECT (`dd iflag=direct`, see compress/igzip.ts).
   */
  justWritten?: boolean;
  /**
   * The blob is still being downloaded (source startFetch): its spill
   * waits for it, and takes `justWritten` from it. Layers whose tar is in
   * the store already do not wait.
   */
  fetched?: Promise<boolean>;
  /** The blob's size from its descriptor (for a blob not there yet). */
  size?: number;
  /** The blob's media type from its descriptor (for a blob not there yet: a guess at how it will spill). */
  mediaType?: string;
}

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/**
 * Layers decoded at once per core (by default). A layer's decoding takes
 * time in proportion to its size, and layers differ in size several times
 * over: one job per core left a core idle while the other finished the last
 * big layer (bench image, 121–468 MB layers, 2 cores). Two per core let the
 * kernel share the cores among them until the end: first tar conversion
 * 6.0 s → 5.5 s (mean of four interleaved runs each; 3, 4 and 5 at once
 * within noise of each other). A job is a thread of the native addon that
 * decodes, or igzip and dd processes (spillsInProcesses; the layer's hash,
 * on a thread of the addon or by openssl, runs later, outside the limit:
 * SpillOptions.hashAfterDecode), or a worker thread that decodes and hashes
 * (with ISA-L where it applies).
 */
export const SPILL_JOBS_PER_CORE = 2;

/**
 * Layers decoded at once where the native addon spills them (one thread
 * each): one per core and one more. Four such threads
 * on two cores left our main thread a third of a core for flatten, so the
 * last layer's flatten and the write started late: first tar conversion,
 * interleaved rounds, 3.97 s with three at once against 4.25 s with four
 * (nine rounds each; 4.27 s with two); squashfs (a) cold within noise.
 */
export function nativeSpillJobs(cores: number): number {
  return cores + 1;
}

/** Path of the uncompressed tar for a diff_id. */
export function diffPath(storeRoot: string, diffId: string): string {
  const m = DIGEST_RE.exec(diffId);
  if (!m) throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `diff_id ${JSON.stringify(diffId)} is not a sha256 digest`);
  return join(storeRoot, 'diffs', 'sha256', m[1]);
}

/** A spill under way: where each layer's tar is, when each is ready, and when all work ended. */
export interface SpillPlan {
  /**
   * Uncompressed tar per layer, in layer order: a layer spilled by this plan
   * is read under its temp name (published under finalPaths once checked).
   */
  paths: string[];
  /** Per layer: where its tar is once `done` (in the store under its diff_id, or the blob itself). */
  finalPaths: string[];
  /**
   * Per layer: settles when its tar can be read at `paths[i]` (at once for
   * one already there); rejects with the spill's failure. Never left pending:
   * after a failure, layers that were not spilled reject with it too. A
   * layer decoded by ISA-L is ready as soon as igzip or the addon has
   * written it, before its diffID is checked: nothing derived from it may
   * be published (renamed into place, committed) before `done` resolved.
   */
  ready: Promise<void>[];
  /** Settles when every spill ended, verified and in place, and the workers are gone; rejects with the first failure. */
  done: Promise<void>;
  /** Removes the temp names `paths` may point at; call once nothing reads them any more (after `done` settled). */
  release(): Promise<void>;
  /** The tars that were there before this spill (maybe no longer in the page cache), in layer order. */
  present: { path: string; size: number }[];
  /** Per layer: its tar's entry index file and the sha256 (hex) it indexes (see entry-index-file.ts). */
  indexes: { path: string; sha256: string }[];
  /**
   * Layer i's metadata blocks as its spill decoded them (tar/captured.ts),
   * once `ready[i]` resolved: handed out once, so the memory goes with the
   * listing that takes them. Undefined where nothing was captured (a layer
   * not decoded by the addon, or already there).
   */
  takeCaptured(i: number): CapturedBlocks | undefined;
}

/** Where the entry index of the tar with this diff_id lives (beside the spilled tars, also for layers stored uncompressed). */
export function entryIndexPath(storeRoot: string, diffId: string): string {
  return `${diffPath(storeRoot, diffId)}.entries`;
}

export interface SpillOptions {
  events?: ProgressListener;
  /** Layers spilled at once (default: nativeSpillJobs where the addon spills, else SPILL_JOBS_PER_CORE per core). */
  jobs?: number;
  /**
   * Spill gzip layers off our threads where it can be done: on a thread of
   * the native addon (decodes and hashes), else in igzip and openssl
   * processes; no worker thread to start. Default true; false puts every
   * layer on worker threads.
   */
  processes?: boolean;
  /**
   * Layers decoded by ISA-L (the addon, or igzip processes) start their
   * diffID hash (a thread of the addon, or openssl) only once every layer
   * is decoded, and at most one fewer at once than there are cores (at
   * least one): the hashes then run while the writer waits on the disk,
   * instead of taking the cores from decoding and from flattening the last
   * layer (the step the writer waits on). Default true; false has the
   * addon hash as it decodes (docs/tree.md, "Hashes after decoding").
   */
  hashAfterDecode?: boolean;
}

/**
 * Ensures an uncompressed, verified tar exists for each layer; returns the
 * paths in layer order. A layer stored uncompressed is used in place.
 * Layers are decompressed `jobs` at a time (default: SPILL_JOBS_PER_CORE per core); the
 * result does not depend on the order they finish in.
 */
export async function spillLayers(
  storeRoot: string,
  layers: SpillInput[],
  opts: SpillOptions = {},
): Promise<string[]> {
  const plan = await startSpill(storeRoot, layers, opts);
  try {
    await plan.done;
  } finally {
    await plan.release();
  }
  return plan.finalPaths;
}

/**
 * Starts spilling (see spillLayers) and returns at once with each layer's
 * readiness, so a consumer can read layer 0 while later layers decompress.
 * Layers whose blob is there start in layer order, so the first ones are
 * ready first; a layer whose blob is still downloading (SpillInput.fetched)
 * starts when it arrives, and a freed slot goes to the lowest layer waiting.
 */
export async function startSpill(
  storeRoot: string,
  layers: SpillInput[],
  opts: SpillOptions = {},
): Promise<SpillPlan> {
  await mkdir(join(storeRoot, 'diffs', 'sha256'), { recursive: true });
  const paths: string[] = new Array(layers.length);
  const finalPaths: string[] = new Array(layers.length);
  const kept: string[] = []; // temp names readers use until release()
  const release = async (): Promise<void> => {
    await Promise.all(kept.splice(0).map((p) => unlink(p).catch(() => undefined)));
  };
  const ready: Promise<void>[] = new Array(layers.length).fill(Promise.resolve());
  const captured: (CapturedBlocks | undefined)[] = new Array(layers.length);
  const takeCaptured = (i: number): CapturedBlocks | undefined => {
    const c = captured[i];
    captured[i] = undefined;
    return c;
  };
  /** How a layer whose blob is there spills: in processes or on a thread of ours, reading the blob through the page cache or not. */
  const howToSpill = async (l: SpillInput, justWritten: boolean): Promise<{ inProcesses: boolean; justWritten: boolean }> => ({
    inProcesses: opts.processes !== false && (await spillsInProcesses(l.blobPath)),
    justWritten,
  });
  /** A layer to spill; `known` once its blob is there (else after `fetched`). */
  interface Todo {
    i: number;
    dest: string;
    tmp: string;
    bytes: number;
    /** Counted for the worker pool's size (known, or guessed for a blob not there yet). */
    threaded: boolean;
    known?: { inProcesses: boolean; justWritten: boolean };
    settle: Deferred;
  }
  const todo: Todo[] = [];
  const present: { path: string; size: number }[] = [];
  const indexes = layers.map((l) => ({ path: entryIndexPath(storeRoot, l.diffId), sha256: l.diffId.slice('sha256:'.length) }));
  const have = (path: string, size: number): void => {
    if (!present.some((p) => p.path === path)) present.push({ path, size });
  };
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    opts.events?.({ type: 'layer-start', index: i, digest: l.digest });
    if (l.digest === l.diffId) {
      paths[i] = finalPaths[i] = l.blobPath; // the blob is the uncompressed tar and was verified by its digest
      if (l.fetched) ready[i] = l.fetched.then(() => undefined);
      else have(l.blobPath, (await stat(l.blobPath).catch(() => undefined))?.size ?? 0);
      continue;
    }
    const dest = diffPath(storeRoot, l.diffId);
    paths[i] = finalPaths[i] = dest;
    const there = await stat(dest).catch(() => undefined);
    if (there?.isFile() && (await usableDiff(dest, l.diffId))) {
      have(dest, there.size);
      continue;
    }
    // Two entries for one diff_id (a layer repeated) spill once.
    const same = todo.find((t) => t.dest === dest);
    if (same) {
      ready[i] = same.settle.promise;
      paths[i] = paths[same.i];
      continue;
    }
    const settle = deferred();
    ready[i] = settle.promise;
    // Read under its temp name from the moment it is decoded (see SpillPlan.ready), published by link(2) once checked.
    const tmp = `${dest}.tmp-${randomBytes(8).toString('hex')}`;
    paths[i] = tmp;
    kept.push(tmp);
    const known = l.fetched ? undefined : await howToSpill(l, l.justWritten === true);
    const bytes = l.fetched ? (l.size ?? 0) : ((await stat(l.blobPath).catch(() => undefined))?.size ?? 0);
    const threaded = known ? !known.inProcesses : !likelyInProcesses(l, opts.processes !== false);
    todo.push({ i, dest, tmp, bytes, threaded, settle, ...(known ? { known } : {}) });
  }
  if (todo.length === 0) return { paths, finalPaths, ready, done: Promise.resolve(), release, present, indexes, takeCaptured };
  const cores = availableParallelism();
  const byDefault = opts.processes !== false && nativeInflate() ? nativeSpillJobs(cores) : cores * SPILL_JOBS_PER_CORE;
  const jobs = Math.max(1, Math.min(opts.jobs ?? byDefault, todo.length));
  const slots = limiter(jobs);
  // Workers only for the layers that may need a thread of ours (not those igzip decodes and openssl hashes).
  const threadedTodo = todo.filter((t) => t.threaded);
  const threads = Math.min(jobs, threadedTodo.length);
  const threadedBytes = threadedTodo.reduce((a, t) => a + t.bytes, 0);
  const threaded = lazySpiller(threads, threadedBytes, opts.events);
  // Hashes wait until every layer is decoded, then run a core short of all (SpillOptions.hashAfterDecode), outside the job limit.
  const allDecoded = deferred();
  const hashLimit = limiter(Math.max(1, availableParallelism() - 1));
  const hashTurn = <T>(hash: () => Promise<T>): Promise<T> => allDecoded.promise.then(() => hashLimit(hash));
  const checks: Promise<unknown>[] = [];
  let failure: { e: unknown } | undefined;
  /** Decodes one layer in a job slot; for a layer spilled in processes, the slot is free once igzip is done and its check goes on. */
  const decode = async ({ i, dest, tmp, settle }: Todo, { inProcesses, justWritten }: NonNullable<Todo['known']>): Promise<void> => {
    if (failure) throw failure.e; // nothing new starts after a failure
    const l = layers[i];
    // decompressToFile writes the temp name, checks the sha256 against diffId, then links it to dest, keeping the temp name for readers.
    const me = bootIdentity();
    const spillOpts: DecompressToFileOptions = {
      label: `layer ${i} (${l.digest})`,
      expectedDiffId: l.diffId,
      directRead: !justWritten,
      tmpPath: tmp,
      keepTemp: true,
      ...(me !== undefined ? { unsyncedMarker: { path: markerPath(dest), content: me } } : {}),
    };
    if (!inProcesses) {
      await threaded.get().spill(l.blobPath, dest, spillOpts);
      settle.resolve();
      return;
    }
    const whole = decompressToFile(l.blobPath, dest, {
      ...spillOpts,
      hashByProcess: true,
      captureHeaders: true,
      onDecoded: (headers) => {
        if (headers) captured[i] = CapturedBlocks.from(headers);
        settle.resolve();
      },
      ...(opts.hashAfterDecode !== false ? { hashTurn } : {}),
    }).then(() => settle.resolve()); // a layer igzip could not be trusted with was decoded by zlib, without onDecoded
    checks.push(whole);
    await Promise.race([settle.promise, whole]);
  };
  // Layers whose blob is there queue for a slot now, in layer order; the others as their download ends.
  // A freed slot goes to the lowest layer waiting: layers are flattened in order, so the first ones are needed first.
  const inSlot = (t: Todo, known: NonNullable<Todo['known']>): Promise<void> =>
    slots(
      () =>
        decode(t, known).catch((e: unknown) => {
          failure ??= { e }; // before the slot passes on, so the next one does not start
          throw e;
        }),
      t.i,
    );
  const spillOne = async (t: Todo): Promise<void> => {
    if (t.known) return inSlot(t, t.known);
    const l = layers[t.i];
    return inSlot(t, await howToSpill(l, await l.fetched!));
  };
  const run = async (): Promise<void> => {
    try {
      await Promise.all(
        todo.map((t) =>
          spillOne(t).catch((e: unknown) => {
            failure ??= { e };
            t.settle.reject(e);
          }),
        ),
      );
      allDecoded.resolve();
      const results = await Promise.allSettled(checks);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.e;
      if (failed) throw failed.reason;
    } catch (e) {
      for (const t of todo) t.settle.reject(e); // the ones never started
      throw e;
    } finally {
      allDecoded.resolve();
      await threaded.close();
    }
  };
  return { paths, finalPaths, ready, done: handled(run()), release, present, indexes, takeCaptured };
}
