/**
 * Writes an image file atomically: into `OUT.tmp-PID` first, renamed over
 * `OUT` only when complete; the temp file is removed on failure.
 */
import { rename, unlink } from 'node:fs/promises';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { FsverityHasher } from '../../fsverity/index.js';
import { ImageOutput } from '../output.js';
import { ImageSink } from './sink.js';

/** Runs `fill` on a sink over a temp file, then renames it to `outPath`. Returns the size in bytes. `mirror` gets the same bytes (not renamed). */
export async function writeImageFile(outPath: string, what: string, fill: (sink: ImageSink) => Promise<void>, hasher?: FsverityHasher, mirror?: string): Promise<number> {
  const tmp = `${outPath}.tmp-${process.pid}`;
  // dense: EROFS images are mostly data, and readers expect every block present
  const out = await ImageOutput.create(tmp, 0, what, { sparse: false, ...(mirror !== undefined ? { mirror } : {}) });
  try {
    const sink = new ImageSink(out, hasher);
    await fill(sink);
    await sink.flush();
    await out.close(sink.pos);
    await rename(tmp, outPath);
    return sink.pos;
  } catch (e) {
    await out.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    if (e instanceof Oci2fsError) throw e;
    throw new Oci2fsError(ErrorCode.IO, `Cannot write ${what} ${outPath}: ${(e as Error).message}`, { cause: e });
  }
}
