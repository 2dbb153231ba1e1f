/**
 * Entry index files of spilled layer tars (`diffs/sha256/<hex>.entries`,
 * format in tar/entry-index.ts): a conversion reads a layer's entries from
 * its index when there is an intact one for that tar, else from the tar's
 * headers, and then writes the index for the next conversion.
 *
 * The index is a cache of what our tar reader decoded from a verified tar:
 * it names the tar's sha256 and size and carries a checksum, so a stale,
 * truncated or damaged index is ignored (and rewritten), never trusted.
 * It is written only after a strict read with the default limits, whose
 * entries are what any read of that tar gives; reads with other limits
 * ignore it. Written to a temp name and renamed, without fsync: a crash
 * can only leave a damaged index, which the checksum catches. A store that
 * cannot be written (read-only, shared) just goes without.
 */
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { listTarFile, type TarReadOptions } from '../tar/reader.js';
import type { CapturedBlocks } from '../tar/captured.js';
import type { TarEntry } from '../tar/entry.js';
import { decodeEntryIndex, EntryIndexBuilder } from '../tar/entry-index.js';

/** Where a layer's index is and which tar (sha256 hex) it belongs to. */
export interface EntryIndexRef {
  path: string;
  sha256: string;
}

/**
 * Holds an index write back until the tar it describes has been verified
 * (a tar read before its diffID check, see SpillPlan.ready): `track` gets
 * the pending write so the caller can wait for it.
 */
export interface IndexGate {
  verified: Promise<void>;
  track(write: Promise<void>): void;
}

/**
 * The entries of the tar at `tarPath`, in archive order: from its index when
 * intact, else read from the tar (headers `captured` holds from memory), and
 * indexed.
 */
export async function layerEntries(
  tarPath: string,
  index: EntryIndexRef | undefined,
  opts: TarReadOptions,
  gate?: IndexGate,
  captured?: CapturedBlocks,
): Promise<TarEntry[]> {
  const usable = index !== undefined && opts.limits === undefined;
  const size = usable ? (await stat(tarPath).catch(() => undefined))?.size : undefined;
  if (usable && size !== undefined) {
    const bytes = await readFile(index.path).catch(() => undefined);
    const entries = bytes && decodeEntryIndex(bytes, { sha256: index.sha256, size });
    if (entries) return entries;
  }
  // indexed only after a strict read with the default limits
  const builder = usable && size !== undefined && !opts.lenient ? new EntryIndexBuilder(captured?.blocks) : undefined;
  const entries = await listTarFile(tarPath, opts, captured, builder && ((e) => builder.add(e)));
  if (!builder || !index || size === undefined) return entries;
  const write = (): Promise<void> => writeIndex(index.path, builder.finish({ sha256: index.sha256, size }));
  if (!gate) await write();
  else gate.track(gate.verified.then(write, () => undefined)); // a tar that failed its check is not indexed
  return entries;
}

async function writeIndex(path: string, bytes: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, bytes, { mode: 0o644 });
    await rename(tmp, path);
  } catch {
    await unlink(tmp).catch(() => {}); // a cache: a store we cannot write goes without
  }
}
