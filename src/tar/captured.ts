/**
 * Bytes of a tar stream captured while it was decoded: the addon's inflate
 * copies the blocks a listing reads (headers, pax and long-name data, GNU
 * sparse extension blocks) as they go by (native/tar_walk.c), so listing a
 * freshly spilled layer needs no read of the file. 53k headers cost ~0.3 s
 * of preads in the benchmark's first conversion, on the thread that builds
 * the tree.
 *
 * A cache of the file's own bytes, nothing more: FileSource serves a read
 * from here when a piece covers its offset and reads the file otherwise, and
 * the tar reader checks what it gets either way. Pure; no I/O.
 */

/** The capture as the addon hands it over. */
export interface CapturedHeaders {
  /** Captured bytes, piece after piece. */
  bytes: Uint8Array;
  /** (stream offset, length) of each piece, in stream order. */
  pieces: Float64Array;
}

export class CapturedBlocks {
  /** Start offset in the stream, and in `bytes`, of each piece; pieces[i] ends where starts[i] + lengths[i]. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly at: number[] = [];
  /** Piece the last lookup found (reads go forward). */
  private cursor = 0;

  private constructor(private readonly bytes: Uint8Array) {}

  /**
   * Checks the pieces (increasing, not overlapping, within the bytes);
   * undefined for a capture that does not add up, which then goes unused.
   */
  static from(c: CapturedHeaders): CapturedBlocks | undefined {
    const out = new CapturedBlocks(c.bytes);
    let used = 0;
    let end = 0;
    if (c.pieces.length % 2 !== 0) return undefined;
    for (let i = 0; i < c.pieces.length; i += 2) {
      const start = c.pieces[i];
      const length = c.pieces[i + 1];
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || length <= 0 || start < end) return undefined;
      out.starts.push(start);
      out.ends.push((end = start + length));
      out.at.push(used);
      used += length;
    }
    return used === c.bytes.length ? out : undefined;
  }

  /** Number of 512-byte blocks captured: at least one per entry (a header each). */
  get blocks(): number {
    return Math.floor(this.bytes.length / 512);
  }

  /** Bytes captured from stream offset `pos` to the end of their piece (a view), or null when none covers it. */
  from(pos: number): Uint8Array | null {
    const { starts, ends } = this;
    let i = this.cursor;
    if (i > 0 && ends[i - 1] > pos) i = 0; // behind the pieces already passed: search again
    while (i < starts.length && ends[i] <= pos) i++;
    this.cursor = i;
    if (i >= starts.length || starts[i] > pos) return null;
    const at = this.at[i] + (pos - starts[i]);
    return this.bytes.subarray(at, at + (ends[i] - pos));
  }
}
