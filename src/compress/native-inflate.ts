/**
 * One-pass gzip layer spills through oci2fs's native addon (native/inflate.c):
 * a thread of the addon reads the blob (O_DIRECT when asked), inflates it
 * with ISA-L's library (libisal, what the `igzip` program runs), writes the
 * tar, and hashes it with SHA-256 while the bytes are still in the CPU's
 * cache, or leaves the hash for later (`hash` false): sha256File then hashes
 * the written tar on a thread of the addon, when the caller chooses
 * (to-file.ts, hashTurn: once every layer is decoded). The addon has it
 * where libisal's headers were there when npm built it (Debian package
 * libisal-dev, installed by scripts/install.sh); without it, layers spill
 * through the igzip and openssl programs (igzip.ts, sha256-process.ts), or
 * zlib.
 *
 * Its verdict is trusted only where it is zlib's (igzip.ts states the rule):
 * complete members, each checked by its CRC-32 and ISIZE, then NULs at most;
 * anything else comes back as 'retry' and is decoded again by zlib. The
 * digest is still compared with the layer's diff_id by the caller.
 */
import { nativeAddon } from '../util/native.js';

/**
 * A tar's metadata blocks, copied as they were decoded (native/tar_walk.c):
 * the bytes, piece after piece, and each piece's (offset in the tar, length).
 * For the first listing of the spilled tar (tar/captured.ts).
 */
export interface InflateCapture {
  bytes: Uint8Array;
  pieces: Float64Array;
}

/** What inflateGzip found. */
export type NativeInflateOutcome =
  /** Decoded: `size` bytes written from offset 0, whose SHA-256 (hex) is `sha256` ("" when not asked to hash); `headers` when asked for. */
  | { kind: 'ok'; size: number; sha256: string; headers?: InflateCapture }
  /** The output would exceed the limit: nothing past it was written. */
  | { kind: 'limit' }
  /** Not a stream whose verdict is zlib's (corrupt, or bytes after a member): decode with zlib. */
  | { kind: 'retry'; reason: string };

/**
 * Inflates the gzip file at `srcPath` into `dstFd` (written from offset 0 with
 * pwrite), at most `maxOutput` bytes, reading with O_DIRECT when `direct`
 * (and the file system allows it), capturing the tar's metadata blocks when
 * `captureHeaders`, hashing what it writes unless `hash` is false. Rejects
 * with an errno-coded error when a file cannot be read or written.
 */
export type NativeInflate = (srcPath: string, dstFd: number, maxOutput: number, direct: boolean, captureHeaders?: boolean, hash?: boolean) => Promise<NativeInflateOutcome>;

/**
 * The addon's sha256File: SHA-256 (hex) of the first `length` bytes of the
 * file at `path`, on a thread of the addon; rejects with an errno-coded
 * error (EIO when the file is shorter).
 */
export type NativeSha256File = (path: string, length: number) => Promise<string>;

/** Environment variable that turns the native inflate off ("0"), leaving the igzip program. */
export const NATIVE_INFLATE_ENV = 'OCI2FS_NATIVE_INFLATE';

/** The addon's sha256File, or null where nativeInflate() is (they come together). */
export function nativeSha256File(): NativeSha256File | null {
  if (nativeInflate() === null) return null;
  const fn = nativeAddon()?.sha256File;
  return typeof fn === 'function' ? (fn as NativeSha256File) : null;
}

/** The addon's inflateGzip, or null when it was built without libisal, is missing, or is turned off. */
export function nativeInflate(): NativeInflate | null {
  if (process.env[NATIVE_INFLATE_ENV] === '0') return null;
  const fn = nativeAddon()?.inflateGzip;
  return typeof fn === 'function' ? (fn as NativeInflate) : null;
}
