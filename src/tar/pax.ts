/**
 * pax extended header records (POSIX.1-2001 "pax"): parsing and encoding.
 * Records are "LEN key=value\n" where LEN counts the whole record in bytes,
 * so values are arbitrary bytes (newlines, NULs, invalid UTF-8). We never
 * decode them as text: keys and values stay byte strings / byte arrays.
 */
import { tarInvalid, type TarContext } from './errors.js';
import { latin1 } from './numeric.js';

/** One pax record, in archive order. Key is a byte string. */
export interface PaxRecord {
  key: string;
  value: Uint8Array;
}

const SPACE = 0x20;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;
const NUL = 0x00;

/**
 * Parses the data of an 'x' or 'g' header into records (order kept,
 * repeated keys kept: GNU sparse 0.0 repeats offset/numbytes). Trailing NUL
 * padding after the last record is accepted.
 */
export function parsePaxRecords(data: Uint8Array, ctx: TarContext): PaxRecord[] {
  const out: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === NUL) {
      // Some writers pad the data with NULs; only NULs may follow.
      for (let i = pos; i < data.length; i++) {
        if (data[i] !== NUL) throw tarInvalid(ctx, `pax header has garbage after NUL padding at byte ${pos}`);
      }
      break;
    }
    let len = 0;
    let i = pos;
    while (i < data.length && data[i] >= 0x30 && data[i] <= 0x39) {
      len = len * 10 + (data[i] - 0x30);
      if (len > data.length) throw tarInvalid(ctx, `pax record at byte ${pos} is longer than the header`);
      i++;
    }
    if (i === pos || i >= data.length || data[i] !== SPACE) {
      throw tarInvalid(ctx, `pax record at byte ${pos} does not start with "LENGTH "`);
    }
    const end = pos + len;
    if (len <= i - pos + 1 || end > data.length || data[end - 1] !== NEWLINE) {
      throw tarInvalid(ctx, `pax record at byte ${pos} has a bad length ${len}`);
    }
    const rec = data.subarray(i + 1, end - 1);
    const eq = rec.indexOf(EQUALS);
    if (eq <= 0) throw tarInvalid(ctx, `pax record at byte ${pos} has no "key="`);
    out.push({ key: latin1(rec.subarray(0, eq)), value: rec.subarray(eq + 1) });
    pos = end;
  }
  return out;
}

/**
 * Encodes one record "LEN key=value\n"; LEN includes its own digits, so it
 * is found by iterating until the digit count is stable.
 */
export function encodePaxRecord(key: string, value: Uint8Array): Uint8Array {
  const keyBytes = Buffer.from(key, 'latin1');
  const body = keyBytes.length + value.length + 3; // ' ' + '=' + '\n'
  let len = body + 1;
  while (String(len).length + body !== len) len = String(len).length + body;
  const out = Buffer.alloc(len);
  let p = out.write(`${len} `, 0, 'latin1');
  p += keyBytes.copy(out, p);
  out[p++] = EQUALS;
  p += Buffer.from(value.buffer, value.byteOffset, value.byteLength).copy(out, p);
  out[p] = NEWLINE;
  return out;
}

/** Parses a pax decimal integer (digits only). */
export function parsePaxInt(value: Uint8Array, key: string, ctx: TarContext): number {
  const s = latin1(value);
  if (!/^[0-9]+$/.test(s)) throw tarInvalid(ctx, `pax ${key}=${JSON.stringify(s)} is not a decimal number`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw tarInvalid(ctx, `pax ${key}=${s} is too large`);
  return n;
}

const NS_PER_SEC = 1_000_000_000n;
const NS = 1_000_000_000;

/**
 * Parses a pax time "[-]SEC[.FRACTION]" exactly (no floating point) into
 * whole seconds (floor) and nanoseconds 0..999999999. Digits beyond the
 * ninth fractional digit are truncated toward minus infinity.
 */
export function parsePaxTime(value: Uint8Array, key: string, ctx: TarContext): { sec: number; nsec: number } {
  const s = latin1(value);
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(s);
  if (!m) throw tarInvalid(ctx, `pax ${key}=${JSON.stringify(s)} is not a time`);
  const negative = m[1] === '-';
  const frac = m[3] ?? '';
  const frac9 = frac.slice(0, 9).padEnd(9, '0');
  const extra = /[1-9]/.test(frac.slice(9));
  if (m[2].length <= 15) {
    // Fast path: whole seconds below 10^15 are exact in a double.
    const whole = Number(m[2]);
    const ns = Number(frac9);
    if (!negative) return { sec: whole, nsec: ns };
    const f = ns + (extra ? 1 : 0);
    return f === 0 ? { sec: whole === 0 ? 0 : -whole, nsec: 0 } : { sec: -whole - 1, nsec: NS - f };
  }
  let total = BigInt(m[2]) * NS_PER_SEC + BigInt(frac9);
  if (negative) total = -total - (extra ? 1n : 0n);
  let sec = total / NS_PER_SEC;
  let nsec = total % NS_PER_SEC;
  if (nsec < 0n) {
    nsec += NS_PER_SEC;
    sec -= 1n;
  }
  if (sec > BigInt(Number.MAX_SAFE_INTEGER) || sec < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw tarInvalid(ctx, `pax ${key}=${s} is out of range`);
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** Formats seconds + nanoseconds as an exact pax time (no trailing zeros). */
export function formatPaxTime(sec: number, nsec: number): string {
  const total = BigInt(sec) * NS_PER_SEC + BigInt(nsec);
  const neg = total < 0n;
  const abs = neg ? -total : total;
  const whole = abs / NS_PER_SEC;
  const frac = (abs % NS_PER_SEC).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/**
 * Decodes the %XX escapes of a LIBARCHIVE.xattr name into a byte string
 * (libarchive URL-encodes names and base64-encodes values).
 */
export function percentDecode(s: string, ctx: TarContext): string {
  return s.replace(/%([0-9A-Fa-f]{2})|%/g, (_all, hex: string | undefined) => {
    if (hex === undefined) throw tarInvalid(ctx, `bad %-escape in LIBARCHIVE.xattr name ${JSON.stringify(s)}`);
    return String.fromCharCode(parseInt(hex, 16));
  });
}

/** Strict base64 decode (standard alphabet, padding optional). */
export function base64Decode(s: string, ctx: TarContext): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw tarInvalid(ctx, `LIBARCHIVE.xattr value is not base64`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}
