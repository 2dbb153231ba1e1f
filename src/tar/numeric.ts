/**
 * Numeric header fields: octal text (POSIX ustar) and GNU base-256 binary,
 * and the octal encoding we write. Pure functions over header bytes.
 */
import { BASE256_FLAG, BASE256_SIGN, type Field } from './constants.js';
import { tarInvalid, type TarContext } from './errors.js';

const SPACE = 0x20;
const NUL = 0x00;
const DIGIT_0 = 0x30;
const DIGIT_7 = 0x37;

/**
 * Decodes a numeric field: octal digits with optional leading spaces (or
 * NULs), terminated by space or NUL; an all-blank field is 0. A first byte
 * with the high bit set marks GNU base-256: two's complement big-endian over
 * the remaining 8*len-1 bits (0x80 positive, 0xff negative). Results outside
 * the safe integer range are rejected.
 */
export function decodeNumber(block: Uint8Array, f: Field, ctx: TarContext, name: string): number {
  const start = f.offset;
  const end = f.offset + f.length;
  if (block[start] & BASE256_FLAG) return decodeBase256(block.subarray(start, end), ctx, name);
  let i = start;
  while (i < end && (block[i] === SPACE || block[i] === NUL)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i];
    if (c === SPACE || c === NUL) break;
    if (c < DIGIT_0 || c > DIGIT_7) {
      throw tarInvalid(ctx, `${name} field is not octal (${JSON.stringify(latin1(block.subarray(start, end)))})`);
    }
    v = v * 8 + (c - DIGIT_0);
    digits++;
  }
  // Only blanks may follow the terminator.
  for (; i < end; i++) {
    if (block[i] !== SPACE && block[i] !== NUL) {
      throw tarInvalid(ctx, `${name} field has trailing garbage (${JSON.stringify(latin1(block.subarray(start, end)))})`);
    }
  }
  // 17 octal digits = 51 bits: always exact in a double.
  if (digits > 17) throw tarInvalid(ctx, `${name} field is too large`);
  return v;
}

function decodeBase256(b: Uint8Array, ctx: TarContext, name: string): number {
  let v = BigInt(b[0] & ~BASE256_FLAG & 0xff);
  for (let i = 1; i < b.length; i++) v = (v << 8n) | BigInt(b[i]);
  if (b[0] & BASE256_SIGN) v -= 1n << BigInt(8 * b.length - 1);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw tarInvalid(ctx, `${name} field (base-256) is out of range`);
  }
  return Number(v);
}

/**
 * True when the field holds a GNU base-256 number (first byte has the high
 * bit set); used to reject negative sizes and ids.
 */
export function isBase256(block: Uint8Array, f: Field): boolean {
  return (block[f.offset] & BASE256_FLAG) !== 0;
}

/**
 * Writes `v` (0 <= v <= 8^(len-1)-1) as zero-padded octal followed by NUL,
 * the form GNU tar and Go archive/tar use. The caller checks the range.
 */
export function encodeOctal(block: Uint8Array, f: Field, v: number): void {
  const s = Math.trunc(v).toString(8).padStart(f.length - 1, '0');
  if (s.length > f.length - 1 || v < 0) throw new RangeError(`value ${v} does not fit a ${f.length}-byte octal field`);
  for (let i = 0; i < s.length; i++) block[f.offset + i] = s.charCodeAt(i);
  block[f.offset + f.length - 1] = NUL;
}

/** Byte string (one char per byte) of a byte array. */
export function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** Bytes up to the first NUL (or the whole field), as a byte string. */
export function decodeString(block: Uint8Array, f: Field): string {
  let end = f.offset;
  const max = f.offset + f.length;
  while (end < max && block[end] !== NUL) end++;
  if (end === f.offset) return '';
  // a Buffer decodes its own range: no view object per field (53k headers of the bench image)
  return block instanceof Buffer ? block.toString('latin1', f.offset, end) : latin1(block.subarray(f.offset, end));
}

/** Writes a byte string into a field (must fit; the rest stays NUL). */
export function encodeString(block: Uint8Array, f: Field, s: string): void {
  if (s.length > f.length) throw new RangeError(`string of ${s.length} bytes does not fit a ${f.length}-byte field`);
  for (let i = 0; i < s.length; i++) block[f.offset + i] = s.charCodeAt(i) & 0xff;
}
