/**
 * Zero-copy writes of file ranges with O_DIRECT, through oci2fs's small
 * native addon (native/oci2fs_native.c, built by npm at install time; an
 * optional dependency). The source range is mapped and the mapping handed to
 * pwritev(2) on the output's O_DIRECT descriptor, gathered with the bytes
 * we buffered (headers, small files) into one write per batch, so the kernel
 * writes the source's page-cache pages to the device without our copying
 * them. On the benchmark VM the memcpy of 1.4 GB cost ~0.7 s of system time
 * and slowed the device writes it competed with (docs/architecture.md,
 * "Zero-copy file data").
 *
 * Where the addon is missing (no compiler at install time, another OS) or
 * `OCI2FS_NATIVE=0` is set, nativeZeroCopy() is null and writers copy
 * through their buffers as before: same bytes, more CPU.
 */
import { nativeAddon } from '../util/native.js';


/** A mapped source range (opaque; from mapRange). */
export type MappedRange = { readonly __mappedRange: unique symbol };

/** One piece of a gathered write: bytes of ours, or a mapped source range. */
export type Segment = Uint8Array | MappedRange;

/** What the addon exports (see native/oci2fs_native.c). */
export interface NativeZeroCopy {
  /** statx(2) STATX_DIOALIGN of an open file: [memory alignment, file offset alignment], null when unknown. */
  dioAlign(fd: number): [number, number] | null;
  /** Maps bytes [offset, offset + length) of `fd` read-only (length > 0). */
  mapRange(fd: number, offset: number, length: number): MappedRange;
  /**
   * Writes the segments back to back to `fd` from `pos` (pwritev loop on the
   * thread pool); rejects with an errno-coded error. The array, its buffers
   * and ranges must stay unchanged until the promise settles.
   */
  writeSegments(fd: number, pos: number, segments: readonly Segment[]): Promise<void>;
  /** Unmaps now (idempotent); throws while a write from the range is running. */
  unmap(range: MappedRange): void;
}

/** The addon's zero-copy functions, or null when it is not there (util/native.ts). */
export function nativeZeroCopy(): NativeZeroCopy | null {
  return nativeAddon() as NativeZeroCopy | null;
}

/** Alignments a zero-copy O_DIRECT write to one output needs. */
export interface DirectAlignment {
  /** Source bytes must start at a multiple of this (memory alignment: mapped pages keep file offsets modulo the page size). */
  mem: number;
  /** Output positions and lengths must be multiples of this. */
  offset: number;
}

/** The O_DIRECT alignment of an open output, null when the kernel or file system does not say. */
export function directAlignment(native: NativeZeroCopy, fd: number): DirectAlignment | null {
  try {
    const a = native.dioAlign(fd);
    return a ? { mem: a[0], offset: a[1] } : null;
  } catch {
    return null;
  }
}
