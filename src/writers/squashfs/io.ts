/** Positional writes that never stop short. */
import type { FileHandle } from 'node:fs/promises';

/** Writes all of `data` at absolute position `pos`. */
export async function writeAll(fh: FileHandle, data: Uint8Array, pos: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, pos + off);
    off += bytesWritten;
  }
}
