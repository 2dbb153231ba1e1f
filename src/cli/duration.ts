/** Durations on the command line: "90s", "30m", "12h", "30d", "2w". */
import { Oci2fsError, ErrorCode } from '../errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(s: string): number {
  const m = /^(\d+)([smhdw])$/.exec(s.trim());
  if (!m) throw new Oci2fsError(ErrorCode.USAGE, `Cannot parse duration "${s}": use a number and one of s, m, h, d, w (e.g. 30d)`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** Sizes: "512", "64K", "1M", "2G" (binary units), for block sizes and image sizes. */
export function parseSize(s: string): number {
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec(s.trim());
  if (!m) throw new Oci2fsError(ErrorCode.USAGE, `Cannot parse size "${s}": use a number with an optional K, M, G or T suffix`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()] ?? 1;
  return Number(m[1]) * mult;
}
