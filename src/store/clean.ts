/**
 * Removing what killed processes leave behind in tmp/, locks/ and diffs/
 * (see docs/store.md): unique temp files and lock helper files after an
 * hour, spill temp names after a day, resumable partial downloads only
 * after a week and only when no one is downloading that blob.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Unique temp files and lock helpers older than this are leftovers of killed processes. */
export const TEMP_MAX_AGE_MS = 60 * 60 * 1000;
/** Partial downloads untouched for this long are given up (a week). */
export const PARTIAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Temp names of layer spills (`diffs/sha256/<hex>.tmp-<random>`) older than
 * this are leftovers: an import reads its spills under their temp names
 * until it is done (docs/tree.md), which can take long for a big image, so
 * they get a day, not an hour.
 */
export const DIFF_TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** `sha256-<hex>.partial` (see Store.ingestBlob). */
const PARTIAL_RE = /^sha256-([a-f0-9]{64})\.partial$/;

async function olderThan(path: string, ageMs: number, now: number): Promise<boolean> {
  try {
    return now - (await stat(path)).mtimeMs > ageMs;
  } catch {
    return false;
  }
}

/** Removes `p` (named `name`) when it is a unique temp name (`.tmp-`) older than `maxAgeMs`; records it in `removed`. */
async function removeOldTemp(p: string, name: string, maxAgeMs: number, now: number, removed: string[]): Promise<void> {
  if (!name.includes('.tmp-') || !(await olderThan(p, maxAgeMs, now))) return;
  await unlink(p).catch(() => {});
  removed.push(p);
}

/**
 * Cleans `tmpDir` and `locksDir` (and spill temp names in `diffs.dir`); `lockBlob(hex, fn)` runs fn under that
 * blob's lock or throws at once if it is held. Returns the paths removed.
 */
export async function cleanLeftovers(
  tmpDir: string,
  locksDir: string,
  maxAgeMs: number,
  partialMaxAgeMs: number,
  lockBlob: (hex: string, fn: () => Promise<void>) => Promise<void>,
  diffs?: { dir: string; maxAgeMs: number },
): Promise<string[]> {
  const removed: string[] = [];
  const now = Date.now();
  if (diffs) {
    for (const name of (await readdir(diffs.dir).catch(() => [] as string[])).sort()) {
      await removeOldTemp(join(diffs.dir, name), name, diffs.maxAgeMs, now, removed);
    }
  }
  for (const name of (await readdir(tmpDir)).sort()) {
    const p = join(tmpDir, name);
    const m = PARTIAL_RE.exec(name);
    if (m) {
      if (!(await olderThan(p, partialMaxAgeMs, now))) continue;
      try {
        await lockBlob(m[1], () => unlink(p));
        removed.push(p);
      } catch {
        // being downloaded right now: keep it
      }
    } else await removeOldTemp(p, name, maxAgeMs, now, removed);
  }
  for (const name of (await readdir(locksDir)).sort()) {
    // Helpers are NAME.lock.<token> and NAME.lock.stale.<rand>; NAME.lock itself is a lock (stale ones are broken on use).
    if (name.endsWith('.lock')) continue;
    const p = join(locksDir, name);
    if (await olderThan(p, maxAgeMs, now)) {
      await unlink(p).catch(() => {});
      removed.push(p);
    }
  }
  return removed;
}
