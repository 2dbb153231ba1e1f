/**
 * Layer blobs → uncompressed layer tars in the store (`diffs/sha256/<hex>`),
 * each verified against the config's diff_id. File contents in the tree point
 * into these tars, so contents are never held in memory and are read once
 * more only by the writer. See docs/tree.md ("content spill").
 */
import { mkdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { decompressToFile } from '../compress/to-file.js';
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { ProgressListener } from '../events.js';

export interface SpillInput {
  /** Compressed (or plain) layer blob path in the store. */
  blobPath: string;
  /** Layer digest (sha256 of the blob). */
  digest: string;
  /** Expected sha256 of the uncompressed tar (config rootfs.diff_ids). */
  diffId: string;
}

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/** Path of the uncompressed tar for a diff_id. */
export function diffPath(storeRoot: string, diffId: string): string {
  const m = DIGEST_RE.exec(diffId);
  if (!m) throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `diff_id ${JSON.stringify(diffId)} is not a sha256 digest`);
  return join(storeRoot, 'diffs', 'sha256', m[1]);
}

/**
 * Ensures an uncompressed, verified tar exists for each layer; returns the
 * paths in layer order. A layer stored uncompressed is used in place.
 * Layers are decompressed `jobs` at a time (default: one per core); the
 * result does not depend on the order they finish in.
 */
export async function spillLayers(
  storeRoot: string,
  layers: SpillInput[],
  opts: { events?: ProgressListener; jobs?: number } = {},
): Promise<string[]> {
  await mkdir(join(storeRoot, 'diffs', 'sha256'), { recursive: true });
  const out: string[] = new Array(layers.length);
  const spillOne = async (i: number): Promise<void> => {
    const l = layers[i];
    opts.events?.({ type: 'layer-start', index: i, digest: l.digest });
    if (l.digest === l.diffId) {
      out[i] = l.blobPath; // the blob is the uncompressed tar and was verified by its digest
      return;
    }
    const dest = diffPath(storeRoot, l.diffId);
    const have = await stat(dest).catch(() => undefined);
    if (!have?.isFile()) {
      // decompressToFile writes a temp name, checks the sha256 against diffId, then renames.
      await decompressToFile(l.blobPath, dest, { label: `layer ${i} (${l.digest})`, expectedDiffId: l.diffId });
    }
    out[i] = dest;
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < layers.length) await spillOne(next++);
  };
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), layers.length));
  await Promise.all(Array.from({ length: jobs }, worker));
  return out;
}
