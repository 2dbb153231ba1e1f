/**
 * Compression format detection by magic bytes. Layers are detected by
 * content, not by media type, because registries and tools mislabel them.
 */

export type Compression = 'gzip' | 'zstd' | 'none';

/** gzip member header ID1 ID2 (RFC 1952 §2.3.1). */
export const GZIP_MAGIC = Uint8Array.of(0x1f, 0x8b);
/** zstd frame magic 0xFD2FB528, little-endian (RFC 8878 §3.1.1). */
export const ZSTD_MAGIC = 0xfd2fb528;
/** zstd skippable frames have magic 0x184D2A50..0x184D2A5F (RFC 8878 §3.1.2). */
export const ZSTD_SKIPPABLE_MIN = 0x184d2a50;
export const ZSTD_SKIPPABLE_MAX = 0x184d2a5f;
/** Bytes needed to recognise every format above. */
export const DETECT_BYTES = 4;

/**
 * Which compression the stream starting with `head` uses: gzip (1f 8b),
 * zstd (28 b5 2f fd, or a leading skippable frame), else none. Give at
 * least DETECT_BYTES bytes when the stream has them.
 */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) return 'gzip';
  if (head.length >= 4) {
    const magic = (head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24)) >>> 0;
    if (magic === ZSTD_MAGIC) return 'zstd';
    if (magic >= ZSTD_SKIPPABLE_MIN && magic <= ZSTD_SKIPPABLE_MAX) return 'zstd';
  }
  return 'none';
}
