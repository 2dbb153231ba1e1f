/**
 * The files an ImageOutput writes (the image and its mirror), how they are
 * opened (O_DIRECT where the file system allows it), the page-aligned
 * buffers O_DIRECT needs, and whether zero-copy writes apply to them.
 */
import { constants, open, type FileHandle } from 'node:fs/promises';
import { alignedBuffer, directUnsupported, DIRECT_ALIGN, O_DIRECT } from '../util/direct-io.js';
import { directAlignment, type NativeZeroCopy } from './zero-copy.js';

/**
 * Page-aligned buffers of closed outputs, for the next output of this
 * process: a WebAssembly memory is only released by the garbage collector,
 * and each holds gigabytes of reserved address space until then.
 */
const spareAligned: Buffer[] = [];
/** Spare aligned buffers kept at most (two per output). */
const MAX_SPARE_ALIGNED = 4;

function takeAligned(bytes: number): Buffer | null {
  const b = spareAligned.pop();
  return b && b.length === bytes ? b : alignedBuffer(bytes);
}

/** Two page-aligned buffers, or null when they cannot be had (an address-space limit). */
export function alignedPair(bytes: number): [Buffer, Buffer] | null {
  const a = takeAligned(bytes);
  const b = a && takeAligned(bytes);
  if (a && b) return [a, b];
  if (a) spareAligned.push(a);
  return null;
}

/** Hands an output's two aligned buffers on to later outputs (no write of theirs may be in flight). */
export function keepAligned(a: Buffer, b: Buffer): void {
  if (spareAligned.length + 2 <= MAX_SPARE_ALIGNED) spareAligned.push(a, b);
}

/** Opens `path` for writing with O_DIRECT (rejects with EINVAL where the file system refuses). */
function openDirect(path: string): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | O_DIRECT);
}

export interface OutputOptions {
  /** Skip all-zero blocks (default true). */
  sparse?: boolean;
  /**
   * Also write every byte to this file (created, truncated): a second copy
   * made while the image is written, at no cost in reading it back. The
   * cache writes its artifact and the user's output file at once this way
   * (convert/import.ts). The caller removes it when the write fails.
   */
  mirror?: string;
  /** Write whole blocks with O_DIRECT where possible (default true). */
  direct?: boolean;
  /**
   * Write long copyFrom ranges without copying them (zero-copy.ts); only for
   * dense outputs (`sparse: false`) whose every target takes O_DIRECT.
   * Default true; tests turn it off to compare both paths.
   */
  zeroCopy?: boolean;
  /** The native addon to use (default: nativeZeroCopy(); tests stand in one that refuses O_DIRECT). */
  native?: NativeZeroCopy | null;
  /** How the O_DIRECT handle is opened (tests stand in a file system that refuses it). */
  openDirect?: (path: string) => Promise<FileHandle>;
}

/** Zero-copy mode: the addon, and the O_DIRECT alignment (file offsets and memory) every target accepts. */
export interface ZeroCopy {
  native: NativeZeroCopy;
  align: number;
}

/** One file an ImageOutput writes. */
export interface Target {
  fh: FileHandle;
  /** The same file opened with O_DIRECT, for whole aligned blocks; null when the file system refuses it. */
  direct: FileHandle | null;
  path: string;
}

/** Creates (truncating) `path` at `size` bytes and opens it for O_DIRECT too where allowed. */
export async function openTarget(path: string, size: number, opts: OutputOptions): Promise<Target> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    let direct: FileHandle | null = null;
    if ((opts.direct ?? true) && O_DIRECT) {
      direct = await (opts.openDirect ?? openDirect)(path).catch((e: unknown) => {
        if (directUnsupported(e)) return null;
        throw e;
      });
    }
    return { fh, direct, path };
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/**
 * Zero-copy writes for these targets, when the addon is there and every
 * target's O_DIRECT alignment is known and fits our blocks. Mappings are
 * whole pages (DIRECT_ALIGN) at page-aligned output positions even where the
 * device takes 512-byte pieces: a mapping that starts inside a page splits
 * each device request into sub-page pieces, which made the bench VM's disk
 * write tar data at ~300 MB/s instead of ~1 GB/s (docs/architecture.md,
 * "Zero-copy file data"). The rest of a range is copied.
 */
export function zeroCopyFor(targets: Target[], native: NativeZeroCopy | null): ZeroCopy | null {
  if (!native) return null;
  let align = DIRECT_ALIGN;
  for (const t of targets) {
    const a = t.direct ? directAlignment(native, t.direct.fd) : null;
    // every piece of a batch starts on an `align` boundary of the buffer too, so memory alignment must not exceed it
    if (!a || DIRECT_ALIGN % a.offset !== 0 || a.mem > a.offset) return null;
    align = Math.max(align, a.offset);
  }
  return { native, align };
}

export async function closeTarget(t: Target): Promise<void> {
  await t.direct?.close().catch(() => undefined);
  await t.fh.close();
}

/** pwrite(2) of buf[from, to) at file offset base + from, to the end (short writes go on). */
export async function pwriteAll(fh: FileHandle, buf: Uint8Array, from: number, to: number, base: number): Promise<void> {
  let done = from;
  while (done < to) {
    const { bytesWritten } = await fh.write(buf, done, to - done, base + done);
    done += bytesWritten;
  }
}

/**
 * Runs `write` with the target's O_DIRECT handle. False when there is none,
 * or when the file system refused the write (EINVAL: FUSE, some network file
 * systems): the handle is then dropped, and this and every later write of
 * the target go through the page cache.
 */
export async function tryDirect(t: Target, write: (direct: FileHandle) => Promise<void>): Promise<boolean> {
  const direct = t.direct;
  if (!direct) return false;
  try {
    await write(direct);
    return true;
  } catch (e) {
    if (!directUnsupported(e)) throw e;
    t.direct = null;
    await direct.close().catch(() => undefined);
    return false;
  }
}
