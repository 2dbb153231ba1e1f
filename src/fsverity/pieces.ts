/**
 * Byte sources for worker hashing: a logical byte stream described as file
 * ranges and zero runs (sparse holes), read with positional synchronous
 * reads into one reused buffer. Used inside worker threads only.
 */
import { openSync, readSync, closeSync } from 'node:fs';

/** `length` bytes at `offset` of the file `path` (a Uint8Array for non-UTF-8 host paths). */
export interface FileRange {
  path: string | Uint8Array;
  offset: number;
  length: number;
}
/** `zeros` zero bytes (a sparse hole). */
export interface ZeroRun {
  zeros: number;
}
/** Bytes given directly (inline contents). */
export interface BytesPiece {
  bytes: Uint8Array;
}
export type Piece = FileRange | ZeroRun | BytesPiece;

/** Descriptors kept open per worker (contents live in a few large layer files). */
const MAX_OPEN = 32;
const fds = new Map<string, number>();

function fdFor(path: string | Uint8Array): number {
  const key = typeof path === 'string' ? path : `\0${Buffer.from(path).toString('latin1')}`;
  const fd = fds.get(key);
  if (fd !== undefined) return fd;
  const nfd = openSync(typeof path === 'string' ? path : Buffer.from(path), 'r');
  fds.set(key, nfd);
  if (fds.size > MAX_OPEN) {
    const [k, old] = fds.entries().next().value as [string, number];
    fds.delete(k);
    closeSync(old);
  }
  return nfd;
}

/** Closes the descriptors opened by `readPieces`. */
export function closePieceFiles(): void {
  for (const fd of fds.values()) closeSync(fd);
  fds.clear();
}

/**
 * Streams the bytes of `pieces` through `buf`: `onChunk` receives views of
 * `buf` that are always full except the last one, so chunk boundaries fall
 * on multiples of `buf.length` (keep it a multiple of the block size).
 */
export function readPieces(pieces: Piece[], buf: Buffer, onChunk: (chunk: Buffer) => void): void {
  let fill = 0;
  for (const p of pieces) {
    if ('zeros' in p) {
      let left = p.zeros;
      while (left > 0) {
        const k = Math.min(left, buf.length - fill);
        buf.fill(0, fill, fill + k);
        fill += k;
        left -= k;
        if (fill === buf.length) {
          onChunk(buf);
          fill = 0;
        }
      }
      continue;
    }
    if ('bytes' in p) {
      let off = 0;
      while (off < p.bytes.length) {
        const k = Math.min(p.bytes.length - off, buf.length - fill);
        buf.set(p.bytes.subarray(off, off + k), fill);
        fill += k;
        off += k;
        if (fill === buf.length) {
          onChunk(buf);
          fill = 0;
        }
      }
      continue;
    }
    const fd = fdFor(p.path);
    let pos = p.offset;
    let left = p.length;
    while (left > 0) {
      const n = readSync(fd, buf, fill, Math.min(left, buf.length - fill), pos);
      if (n === 0) throw Object.assign(new Error(`file ${String(typeof p.path === 'string' ? p.path : Buffer.from(p.path).toString('latin1'))} ended early (wanted ${p.length} bytes at offset ${p.offset})`), { code: 'EOF' });
      fill += n;
      pos += n;
      left -= n;
      if (fill === buf.length) {
        onChunk(buf);
        fill = 0;
      }
    }
  }
  if (fill > 0) onChunk(buf.subarray(0, fill));
}

/** Total logical bytes of `pieces`. */
export function piecesLength(pieces: Piece[]): number {
  let n = 0;
  for (const p of pieces) n += 'zeros' in p ? p.zeros : 'bytes' in p ? p.bytes.length : p.length;
  return n;
}
