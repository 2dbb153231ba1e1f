/**
 * CRC-32C (Castagnoli), table-driven, as used by ext4 metadata_csum.
 *
 * ext4 (kernel `ext4_chksum`, e2fsprogs `ext2fs_crc32c_le`) uses the *raw*
 * register: the caller passes the initial value (~0 for the checksum seed,
 * or a previous result to chain) and no final inversion is applied. So
 * `crc32cRaw(0xffffffff, data)` is the bitwise NOT of the textbook CRC-32C.
 */

/** Reflected Castagnoli polynomial (iSCSI / RFC 3720). */
const CRC32C_POLY_REFLECTED = 0x82f63b78;

/** 8 tables of 256 entries for slicing-by-8. */
const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_POLY_REFLECTED : c >>> 1;
    t0[i] = c >>> 0;
  }
  const tables = [t0];
  for (let s = 1; s < 8; s++) {
    const prev = tables[s - 1];
    const t = new Uint32Array(256);
    for (let i = 0; i < 256; i++) t[i] = ((prev[i] >>> 8) ^ t0[prev[i] & 0xff]) >>> 0;
    tables.push(t);
  }
  return tables;
})();

/**
 * Updates the raw CRC-32C register `crc` with `data` (no pre/post
 * inversion: ext4 convention). Returns an unsigned 32-bit value.
 */
export function crc32cRaw(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = crc >>> 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
    c =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[data[i + 4]] ^
      t2[data[i + 5]] ^
      t1[data[i + 6]] ^
      t0[data[i + 7]];
  }
  for (; i < end; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** The standard CRC-32C of `data` (init ~0, final inversion). */
export function crc32c(data: Uint8Array): number {
  return ~crc32cRaw(0xffffffff, data) >>> 0;
}

/** Raw update with a little-endian u32 (inode numbers, group numbers); no allocation. */
export function crc32cU32(crc: number, value: number): number {
  const t0 = TABLES[0];
  let c = crc >>> 0;
  let v = value >>> 0;
  for (let k = 0; k < 4; k++) {
    c = t0[(c ^ v) & 0xff] ^ (c >>> 8);
    v >>>= 8;
  }
  return c >>> 0;
}

/** Raw update with a little-endian u64 (block numbers of xattr blocks). */
export function crc32cU64(crc: number, value: number): number {
  return crc32cU32(crc32cU32(crc, value % 0x1_0000_0000), Math.floor(value / 0x1_0000_0000));
}
