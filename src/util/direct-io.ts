/**
 * O_DIRECT helpers for files we move through once: image files written and
 * not read back by us, and layer blobs read once to decompress them (by
 * `dd iflag=direct`, see compress/igzip.ts). Through
 * the page cache each costs a page allocation per 4 KiB (on the 2-core VM of
 * the benchmarks, 5-7 s of system time per 1.5 GB written) and evicts the
 * cached layers the next conversion needs. O_DIRECT (open(2)) moves whole
 * blocks between our memory and the device instead; its rules: file offset,
 * length and memory address aligned to the device's logical block size.
 */
import { constants as fsc } from 'node:fs';
import { open } from 'node:fs/promises';

/** Alignment of O_DIRECT transfers (the logical block size is 512 or 4096; 4096 covers both). */
export const DIRECT_ALIGN = 4096;

/** WebAssembly page size (the unit of WebAssembly.Memory sizes). */
const WASM_PAGE = 65536;

/** open(2) flag, 0 where the platform has none. */
export const O_DIRECT: number = fsc.O_DIRECT ?? 0;

/**
 * A buffer of `size` bytes whose memory starts on a page boundary:
 * WebAssembly memories are mmap'ed, so their first byte is page-aligned
 * (node's Buffer allocations promise no alignment). Null when it cannot be
 * had: V8 reserves several GiB of address space per WebAssembly memory,
 * which an address-space limit (`ulimit -v`, as some batch schedulers set)
 * refuses; the caller then writes through the page cache.
 */
export function alignedBuffer(size: number): Buffer | null {
  const wasm = (globalThis as unknown as { WebAssembly?: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
  if (!wasm) return null;
  try {
    const mem = new wasm.Memory({ initial: Math.ceil(size / WASM_PAGE) });
    return Buffer.from(mem.buffer, 0, size);
  } catch {
    return null;
  }
}

/** Whether `e` says the file system refuses O_DIRECT (EINVAL: FUSE, some network file systems). */
export function directUnsupported(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'EINVAL';
}

/**
 * Whether `path` can be opened for O_DIRECT reads (false where the platform
 * or file system refuses, or the file cannot be opened at all: the caller
 * then reads it the ordinary way and reports what is wrong).
 */
export async function directReadable(path: string): Promise<boolean> {
  if (!O_DIRECT) return false;
  try {
    await (await open(path, fsc.O_RDONLY | O_DIRECT)).close();
    return true;
  } catch {
    return false;
  }
}
