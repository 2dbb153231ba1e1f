/**
 * Page-cache residency of test files, read by independent tools: util-linux's
 * `fincore` (mincore(2)) and GNU dd's `iflag=nocache` (posix_fadvise
 * DONTNEED), both without privileges. Used to check that a file read with
 * O_DIRECT really bypassed the page cache.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync } from 'node:fs';

/** Bytes of `path` in the page cache. */
export function residentBytes(path: string): number {
  const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' });
  const n = Number(out.trim());
  if (!Number.isInteger(n)) throw new Error(`fincore said ${JSON.stringify(out)} for ${path}`);
  return n;
}

/** Writes `path` back and drops it from the page cache (dirty pages cannot be dropped, hence the fsync). */
export function evict(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  execFileSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
  const left = residentBytes(path);
  if (left !== 0) throw new Error(`${path}: ${left} bytes still in the page cache after dd iflag=nocache`);
}
