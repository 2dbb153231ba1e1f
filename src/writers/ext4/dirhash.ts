/**
 * Directory-index (htree) name hash: the "half MD4" variant of ext4
 * (kernel fs/ext4/hash.c, e2fsprogs lib/ext2fs/dirhash.c). We always set
 * EXT2_FLAGS_UNSIGNED_HASH, so name bytes are taken as unsigned.
 */

/** MD4 round constants used by the cut-down transform (octal in the C source). */
const K2 = 0o13240474631;
const K3 = 0o15666365641;
/** Default hash seed when the superblock seed is all zeros (MD4 initial state). */
const DEFAULT_SEED = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
/** Largest major hash that is not the end-of-directory marker (EXT4_HTREE_EOF_32BIT - 1) << 1. */
const HTREE_EOF_32BIT = 0x7fffffff;

const rol = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;
const F = (x: number, y: number, z: number): number => (z ^ (x & (y ^ z))) >>> 0;
const G = (x: number, y: number, z: number): number => (((x & y) >>> 0) + (((x ^ y) & z) >>> 0)) >>> 0;
const H = (x: number, y: number, z: number): number => (x ^ y ^ z) >>> 0;

type Fn = (x: number, y: number, z: number) => number;
/** One round step: a = rol(a + f(b,c,d) + x, s). */
const step = (f: Fn, a: number, b: number, c: number, d: number, x: number, s: number): number =>
  rol((a + f(b, c, d) + x) >>> 0, s);

/** The 3-round half-MD4 transform over 8 input words, updating `buf` in place. */
function halfMd4(buf: number[], inp: Uint32Array): void {
  let [a, b, c, d] = buf;
  // round 1: F, words 0..7, shifts 3 7 11 19
  for (let i = 0; i < 8; i += 4) {
    a = step(F, a, b, c, d, inp[i], 3);
    d = step(F, d, a, b, c, inp[i + 1], 7);
    c = step(F, c, d, a, b, inp[i + 2], 11);
    b = step(F, b, c, d, a, inp[i + 3], 19);
  }
  // round 2: G, words 1 3 5 7 0 2 4 6, shifts 3 5 9 13
  const r2 = [1, 3, 5, 7, 0, 2, 4, 6];
  for (let i = 0; i < 8; i += 4) {
    a = step(G, a, b, c, d, (inp[r2[i]] + K2) >>> 0, 3);
    d = step(G, d, a, b, c, (inp[r2[i + 1]] + K2) >>> 0, 5);
    c = step(G, c, d, a, b, (inp[r2[i + 2]] + K2) >>> 0, 9);
    b = step(G, b, c, d, a, (inp[r2[i + 3]] + K2) >>> 0, 13);
  }
  // round 3: H, words 3 7 2 6 1 5 0 4, shifts 3 9 11 15
  const r3 = [3, 7, 2, 6, 1, 5, 0, 4];
  for (let i = 0; i < 8; i += 4) {
    a = step(H, a, b, c, d, (inp[r3[i]] + K3) >>> 0, 3);
    d = step(H, d, a, b, c, (inp[r3[i + 1]] + K3) >>> 0, 9);
    c = step(H, c, d, a, b, (inp[r3[i + 2]] + K3) >>> 0, 11);
    b = step(H, b, c, d, a, (inp[r3[i + 3]] + K3) >>> 0, 15);
  }
  buf[0] = (buf[0] + a) >>> 0;
  buf[1] = (buf[1] + b) >>> 0;
  buf[2] = (buf[2] + c) >>> 0;
  buf[3] = (buf[3] + d) >>> 0;
}

/** Packs up to num*4 name bytes into num words, padding with the length pattern (str2hashbuf, unsigned). */
function str2hashbuf(msg: Uint8Array, off: number, len: number, out: Uint32Array, num: number): void {
  let pad = (len | (len << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  const n = Math.min(len, num * 4);
  let o = 0;
  for (let i = 0; i < n; i++) {
    val = (msg[off + i] + ((val << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[o++] = val;
      val = pad;
      num--;
    }
  }
  if (--num >= 0) out[o++] = val;
  while (--num >= 0) out[o++] = pad;
}

/** Major and minor htree hash of a name. */
export interface DirHash {
  hash: number;
  minor: number;
}

/**
 * half_md4 hash of `name` with the 4-word superblock seed `seed`
 * (s_hash_seed). The major hash has its low bit cleared, as stored in
 * dx entries.
 */
export function halfMd4Hash(name: Uint8Array, seed: readonly number[]): DirHash {
  const buf = seed.some((w) => w !== 0) ? [...seed].map((w) => w >>> 0) : [...DEFAULT_SEED];
  const inp = new Uint32Array(8);
  let len = name.length;
  let off = 0;
  // the kernel processes 32-byte chunks while len > 0 (so an empty name is never hashed)
  while (len > 0) {
    str2hashbuf(name, off, len, inp, 8);
    halfMd4(buf, inp);
    len -= 32;
    off += 32;
  }
  let hash = (buf[1] & ~1) >>> 0;
  if (hash === ((HTREE_EOF_32BIT << 1) >>> 0)) hash = ((HTREE_EOF_32BIT - 1) << 1) >>> 0;
  return { hash, minor: buf[2] >>> 0 };
}
