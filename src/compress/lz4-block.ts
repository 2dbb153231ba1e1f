/**
 * LZ4 *block* format (no frame): the format squashfs' lz4 compressor stores
 * in every data and metadata block (squashfs-tools lz4_wrapper, kernel
 * fs/squashfs/lz4_wrapper.c, both via LZ4_decompress_safe).
 *
 * Block format (lz4 doc/lz4_Block_format.md): a sequence of
 *   token (hi nibble literal length, lo nibble match length - 4),
 *   [literal length bytes: 255... while the nibble is 15], literals,
 *   offset (u16 LE, 1..65535), [match length bytes: 255... while nibble is 15]
 * ending with a sequence that has literals only. Parsing restrictions:
 * the last 5 bytes are always literals (LAST_LITERALS) and the last match
 * starts at least 12 bytes before the end (MF_LIMIT).
 *
 * `lz4CompressBlock` is a greedy compressor with a 4-byte hash table
 * (fast mode) or hash chains searching several candidates (high mode).
 */
import { Oci2fsError, ErrorCode } from '../errors.js';

/** Shortest match the format can express. */
const MIN_MATCH = 4;
/** The last 5 bytes of a block are literals. */
const LAST_LITERALS = 5;
/** The last match must start at least 12 bytes before the block end. */
const MF_LIMIT = 12;
/** Largest back-reference distance (u16 offset). */
const MAX_DISTANCE = 65535;
/** Bits of the hash of a 4-byte sequence. */
const HASH_LOG = 16;
/** Knuth's multiplicative hash constant (2^32 / golden ratio). */
const HASH_MUL = 2654435761;
/** Candidates examined per position in high-compression mode. */
const HC_MAX_ATTEMPTS = 64;
/** Skip-acceleration: after 2^SKIP_TRIGGER missed positions, step grows by one. */
const SKIP_TRIGGER = 6;

/** Hash table shared by calls (one per thread); entries older than `generation` are stale. */
const table = new Int32Array(1 << HASH_LOG);
let generation = 0;
/** Positions stored are offset by `generation`, so each call starts with an empty table without clearing it. */
const GENERATION_LIMIT = 1 << 30;

function read32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

function hash32(v: number): number {
  return Math.imul(v, HASH_MUL) >>> (32 - HASH_LOG);
}

/** Worst-case compressed size of `n` input bytes (LZ4_COMPRESSBOUND). */
export function lz4CompressBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/** Writes one sequence; returns the new output position. */
function emitSequence(
  src: Uint8Array, anchor: number, litLen: number, dst: Uint8Array, op: number, offset: number, matchLen: number,
): number {
  const tokenPos = op++;
  let token = 0;
  if (litLen >= 15) {
    token = 15 << 4;
    let rest = litLen - 15;
    while (rest >= 255) { dst[op++] = 255; rest -= 255; }
    dst[op++] = rest;
  } else {
    token = litLen << 4;
  }
  dst.set(src.subarray(anchor, anchor + litLen), op);
  op += litLen;
  if (matchLen > 0) {
    dst[op++] = offset & 0xff;
    dst[op++] = offset >>> 8;
    const ml = matchLen - MIN_MATCH;
    if (ml >= 15) {
      token |= 15;
      let rest = ml - 15;
      while (rest >= 255) { dst[op++] = 255; rest -= 255; }
      dst[op++] = rest;
    } else {
      token |= ml;
    }
  }
  dst[tokenPos] = token;
  return op;
}

/** Results of the parse loops (module-level to avoid allocating a tuple per block). */
let lastOp = 0;
let lastAnchor = 0;

/**
 * Fast mode: one candidate per position from the hash table, skip
 * acceleration over incompressible stretches. Sets lastOp / lastAnchor.
 */
function parseFast(src: Uint8Array, dst: Uint8Array, base: number): void {
  const n = src.length;
  const matchStartLimit = n - MF_LIMIT; // a match may start at ip <= matchStartLimit
  const matchEndLimit = n - LAST_LITERALS; // a match may not extend past this
  let op = 0;
  let anchor = 0;
  let ip = 0;
  let searchStep = 1 << SKIP_TRIGGER;
  while (ip <= matchStartLimit) {
    const cur = src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24);
    const h = Math.imul(cur, HASH_MUL) >>> (32 - HASH_LOG);
    const ref = table[h] - base;
    table[h] = ip + base;
    if (ref < 0 || ip - ref > MAX_DISTANCE ||
        (src[ref] | (src[ref + 1] << 8) | (src[ref + 2] << 16) | (src[ref + 3] << 24)) !== cur) {
      ip += searchStep++ >> SKIP_TRIGGER;
      continue;
    }
    searchStep = 1 << SKIP_TRIGGER;
    let len = MIN_MATCH;
    while (ip + len < matchEndLimit && src[ip + len] === src[ref + len]) len++;
    let start = ip;
    let mref = ref;
    while (start > anchor && mref > 0 && src[start - 1] === src[mref - 1]) { start--; mref--; len++; }
    op = emitSequence(src, anchor, start - anchor, dst, op, start - mref, len);
    const end = start + len;
    const p = end - 2;
    if (p <= matchStartLimit && p > ip) {
      table[Math.imul(src[p] | (src[p + 1] << 8) | (src[p + 2] << 16) | (src[p + 3] << 24), HASH_MUL) >>> (32 - HASH_LOG)] = p + base;
    }
    ip = end;
    anchor = end;
  }
  lastOp = op;
  lastAnchor = anchor;
}

/**
 * High mode: hash chains over every position, up to HC_MAX_ATTEMPTS
 * candidates, longest match wins. Sets lastOp / lastAnchor.
 */
function parseChains(src: Uint8Array, dst: Uint8Array, base: number): void {
  const n = src.length;
  const matchStartLimit = n - MF_LIMIT;
  const matchEndLimit = n - LAST_LITERALS;
  const chain = new Int32Array(n);
  const insert = (pos: number): number => {
    const h = hash32(read32(src, pos));
    const prev = table[h] - base;
    table[h] = pos + base;
    chain[pos] = prev;
    return prev;
  };
  let op = 0;
  let anchor = 0;
  let ip = 0;
  let searchStep = 1 << SKIP_TRIGGER;
  while (ip <= matchStartLimit) {
    let ref = insert(ip);
    let bestLen = 0;
    let bestRef = -1;
    const cur = read32(src, ip);
    let attempts = HC_MAX_ATTEMPTS;
    while (ref >= 0 && ip - ref <= MAX_DISTANCE && attempts-- > 0) {
      if (src[ref + bestLen] === src[ip + bestLen] && read32(src, ref) === cur) {
        let len = MIN_MATCH;
        while (ip + len < matchEndLimit && src[ip + len] === src[ref + len]) len++;
        if (len > bestLen) { bestLen = len; bestRef = ref; }
      }
      ref = chain[ref];
    }
    if (bestLen < MIN_MATCH) {
      ip += searchStep++ >> SKIP_TRIGGER;
      continue;
    }
    searchStep = 1 << SKIP_TRIGGER;
    let start = ip;
    let mref = bestRef;
    while (start > anchor && mref > 0 && src[start - 1] === src[mref - 1]) { start--; mref--; bestLen++; }
    op = emitSequence(src, anchor, start - anchor, dst, op, start - mref, bestLen);
    const end = start + bestLen;
    for (let p = ip + 1; p < end && p <= matchStartLimit; p++) insert(p);
    ip = end;
    anchor = end;
  }
  lastOp = op;
  lastAnchor = anchor;
}

/**
 * Compresses `src` into one LZ4 block. `high` searches hash chains for
 * longer matches (slower, smaller; like LZ4HC, same decoder).
 */
export function lz4CompressBlock(src: Uint8Array, high = false): Uint8Array {
  const n = src.length;
  const dst = new Uint8Array(lz4CompressBound(n));
  let op = 0;
  let anchor = 0;
  if (n >= MF_LIMIT + 1) {
    if (generation + n + 1 >= GENERATION_LIMIT) {
      table.fill(0);
      generation = 0;
    }
    const base = generation + 1; // stored value = pos + base; anything < base is stale
    generation += n + 1;
    if (high) parseChains(src, dst, base);
    else parseFast(src, dst, base);
    op = lastOp;
    anchor = lastAnchor;
  }
  op = emitSequence(src, anchor, n - anchor, dst, op, 0, 0);
  return dst.subarray(0, op);
}

function corrupt(what: string): never {
  throw new Oci2fsError(ErrorCode.COMPRESSION, `Corrupt LZ4 block: ${what}`);
}

/**
 * Decompresses one LZ4 block whose decompressed size is at most `maxSize`.
 * Strict: rejects out-of-range offsets and overruns.
 */
export function lz4DecompressBlock(src: Uint8Array, maxSize: number): Uint8Array {
  const dst = new Uint8Array(maxSize);
  let ip = 0;
  let op = 0;
  while (ip < src.length) {
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do { if (ip >= src.length) corrupt('truncated literal length'); b = src[ip++]; lit += b; } while (b === 255);
    }
    if (ip + lit > src.length) corrupt('literals run past the input');
    if (op + lit > maxSize) corrupt('output larger than expected');
    dst.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === src.length) break;
    if (ip + 2 > src.length) corrupt('truncated offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) corrupt(`offset ${offset} out of range at output ${op}`);
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do { if (ip >= src.length) corrupt('truncated match length'); b = src[ip++]; ml += b; } while (b === 255);
    }
    ml += MIN_MATCH;
    if (op + ml > maxSize) corrupt('output larger than expected');
    for (let k = 0; k < ml; k++, op++) dst[op] = dst[op - offset];
  }
  return dst.subarray(0, op);
}
