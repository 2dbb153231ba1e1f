/**
 * Layer spills without fsync, made crash-safe by boot identity.
 *
 * Forcing 1.5 GB of spilled layers to disk cost 2–3 s of a first
 * conversion here, and the spill is a cache we can always rebuild. Unsynced
 * data can only be lost by a crash or power cut, and that changes the boot:
 * so each unsynced diff gets a small marker `<diff>.unsynced` holding the
 * host name and Linux boot id, written and fsynced *before* the diff is
 * renamed into place. Using a diff:
 *  - no marker: it was fsynced (or checked since): trusted;
 *  - marker of this host and this boot: the page cache is what we wrote: trusted;
 *  - marker of another host: written there and closed before its rename
 *    (NFS close-to-open puts the data on the server): trusted;
 *  - marker of this host and an earlier boot: the machine went down since;
 *    the diff is re-hashed against its diff_id, then fsynced and the marker
 *    removed, or deleted so it is spilled again.
 * Where no boot id can be read (not Linux), diffs are fsynced as before.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { sha256DigestOfStream } from '../image/index.js';
import { STREAM_BUFFER_BYTES } from '../util/stream-buffer.js';

/** Where Linux publishes a random id that is new on every boot. */
const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

let cached: string | null | undefined;

/** "host\nboot-id\n" of this machine and boot; undefined where there is no boot id. */
export function bootIdentity(): string | undefined {
  if (cached === undefined) {
    try {
      cached = `${hostname()}\n${readFileSync(BOOT_ID_PATH, 'utf8').trim()}\n`;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}

export function markerPath(diff: string): string {
  return `${diff}.unsynced`;
}

/**
 * Whether the existing diff at `path` can be used (see above); a diff that
 * fails its check is deleted (with its marker) and false is returned.
 */
export async function usableDiff(path: string, diffId: string, me: string | undefined = bootIdentity()): Promise<boolean> {
  let marker: string;
  try {
    marker = await readFile(markerPath(path), 'utf8');
  } catch {
    return true; // no marker: durable
  }
  const [host] = marker.split('\n');
  const [myHost] = (me ?? '').split('\n');
  if (marker === me || host !== myHost) return true;
  if ((await sha256DigestOfStream(createReadStream(path, { highWaterMark: STREAM_BUFFER_BYTES }))) !== diffId) {
    await unlink(path).catch(() => {});
    await unlink(markerPath(path)).catch(() => {});
    await unlink(`${path}.entries`).catch(() => {}); // its entry index (entry-index-file.ts) goes with it
    return false;
  }
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await unlink(markerPath(path)).catch(() => {});
  return true;
}
