/**
 * GNU sparse files: validation of segment maps, and the sparse 1.0 map that
 * sits at the start of the entry's data area ("N\n" then N pairs of
 * "offset\nnumbytes\n", padded with NULs to a block boundary; GNU tar
 * manual, "PAX Format, Version 1.0"). Pure.
 */
import { TAR_BLOCK, type TarLimits } from './constants.js';
import { tarInvalid, tarLimit, type TarContext } from './errors.js';
import type { SparseRun } from './header.js';

const NEWLINE = 0x0a;

/** Most decimal digits of one number in a 1.0 map (2^53 has 16). */
const SPARSE_MAX_DIGITS = 20;

/**
 * Largest size of a sparse 1.0 map in bytes for a given segment limit:
 * (1 + 2*segments) numbers of at most SPARSE_MAX_DIGITS digits + newline,
 * rounded up to whole blocks.
 */
export function maxSparse10MapBytes(limits: TarLimits): number {
  const raw = (1 + 2 * limits.maxSparseSegments) * (SPARSE_MAX_DIGITS + 1);
  return Math.ceil(raw / TAR_BLOCK) * TAR_BLOCK;
}

/**
 * Tries to parse a 1.0 map from the first bytes of the data area (a whole
 * number of blocks). Returns the runs and the number of bytes the map
 * occupies (whole blocks), or null when more blocks are needed.
 */
export function parseSparse10Map(
  head: Uint8Array,
  ctx: TarContext,
  limits: TarLimits,
): { runs: SparseRun[]; mapBytes: number } | null {
  let pos = 0;
  const next = (): number | null => {
    const nl = head.indexOf(NEWLINE, pos);
    if (nl < 0) {
      // The number may continue in the next block, unless padding began.
      for (let i = pos; i < head.length; i++) {
        if (head[i] < 0x30 || head[i] > 0x39) throw tarInvalid(ctx, 'GNU sparse 1.0 map ends before all its segments');
      }
      if (head.length - pos > SPARSE_MAX_DIGITS) throw tarInvalid(ctx, 'GNU sparse 1.0 map has an over-long number');
      return null;
    }
    const s = Buffer.from(head.buffer, head.byteOffset + pos, nl - pos).toString('latin1');
    if (!/^[0-9]{1,20}$/.test(s)) throw tarInvalid(ctx, `GNU sparse 1.0 map has a non-number ${JSON.stringify(s)}`);
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw tarInvalid(ctx, 'GNU sparse 1.0 map value too large');
    pos = nl + 1;
    return n;
  };
  const count = next();
  if (count === null) return null;
  if (count > limits.maxSparseSegments) throw tarLimit(ctx, `sparse map with ${count} segments`, 'maxSparseSegments');
  const runs: SparseRun[] = [];
  for (let i = 0; i < count; i++) {
    const offset = next();
    if (offset === null) return null;
    const length = next();
    if (length === null) return null;
    runs.push({ offset, length });
  }
  return { runs, mapBytes: Math.ceil(pos / TAR_BLOCK) * TAR_BLOCK };
}

/**
 * Checks a segment map against the real size and the packed data length:
 * segments ascending and non-overlapping, inside the file, and their
 * lengths adding up to the packed length. Returns the segments without
 * zero-length ones (GNU tar ends a map with a hole by "realsize,0").
 */
export function validateSparse(runs: SparseRun[], realSize: number, packedLength: number, ctx: TarContext): SparseRun[] {
  let end = 0;
  let total = 0;
  const out: SparseRun[] = [];
  for (const r of runs) {
    if (r.offset < end) throw tarInvalid(ctx, `sparse segments overlap or are out of order at offset ${r.offset}`);
    if (r.offset + r.length > realSize) {
      throw tarInvalid(ctx, `sparse segment ${r.offset}+${r.length} lies beyond the file size ${realSize}`);
    }
    end = r.offset + r.length;
    total += r.length;
    if (r.length > 0) out.push({ offset: r.offset, length: r.length });
  }
  if (total !== packedLength) {
    throw tarInvalid(ctx, `sparse segments hold ${total} bytes but the entry stores ${packedLength}`);
  }
  return out;
}

/**
 * The sparse 1.0 map for `runs` (the inverse of the parser above): "N\n",
 * then "offset\nnumbytes\n" per run, NUL-padded to whole blocks.
 */
export function encodeSparseMap(runs: readonly SparseRun[]): Uint8Array {
  const text = [String(runs.length), ...runs.flatMap((r) => [String(r.offset), String(r.length)])].join('\n') + '\n';
  const out = new Uint8Array(text.length + ((TAR_BLOCK - (text.length % TAR_BLOCK)) % TAR_BLOCK));
  out.set(Buffer.from(text, 'latin1'));
  return out;
}
