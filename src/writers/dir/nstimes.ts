/**
 * Exact (nanosecond, or pre-epoch) timestamps for many entries with one
 * process. Node's utimes takes float seconds (microsecond rounding, and
 * negative times mean "now"), so such times are set by `python3`:
 * os.utime(path, ns=(t, t), follow_symlinks=False) is utimensat(2) with
 * AT_SYMLINK_NOFOLLOW and takes raw-bytes paths, so one run covers every
 * entry whatever its name. Without python3 the caller falls back to touch(1).
 */
import { spawn } from 'node:child_process';
import { Oci2fsError, ErrorCode } from '../../errors.js';

export const PYTHON = 'python3';

/** One timestamp to set (atime = mtime), on a path relative to the output directory. */
export interface NsTime {
  /** Raw path bytes relative to the output directory ("." for the root); never through a symlink. */
  rel: Buffer;
  sec: number;
  nsec: number;
}

/**
 * Reads "PATH\0NANOSECONDS\0" records from stdin and applies them in order;
 * the first failure is reported on stderr with exit status 1.
 */
const SCRIPT = `import os, sys
f = sys.stdin.buffer.read().split(b'\\0')
for i in range(0, len(f) - 1, 2):
    t = int(f[i + 1])
    try:
        os.utime(f[i], ns=(t, t), follow_symlinks=False)
    except OSError as e:
        sys.stderr.write('%s: %s\\n' % (f[i].decode('utf-8', 'backslashreplace'), e.strerror))
        sys.exit(1)
`;

/** Nanoseconds since the epoch as a decimal string (exact beyond 2^53). */
export function nsString(sec: number, nsec: number): string {
  return (BigInt(sec) * 1_000_000_000n + BigInt(nsec)).toString();
}

/** The stdin records for `times`. */
export function nsRecords(times: NsTime[]): Buffer {
  const parts: Buffer[] = [];
  for (const t of times) parts.push(t.rel, Buffer.from(`\0${nsString(t.sec, t.nsec)}\0`, 'latin1'));
  return Buffer.concat(parts);
}

/**
 * Sets `times` in order with one python3 run in `cwd` (the output
 * directory). Resolves false, having changed nothing, when python3 is not
 * installed; throws E_IO when it runs and fails.
 */
export function setNsTimesPython(cwd: string, times: NsTime[], python = PYTHON): Promise<boolean> {
  if (times.length === 0) return Promise.resolve(true);
  return new Promise((resolve, reject) => {
    // -I: ignore PYTHON* variables and the user site; -S: no site import (faster start).
    const child = spawn(python, ['-I', '-S', '-c', SCRIPT], { cwd, stdio: ['pipe', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    let missing = false;
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // EPIPE when python3 is missing or exits early: the exit status tells.
    child.stdin.on('error', () => {});
    child.on('error', (e: NodeJS.ErrnoException) => {
      // Not found (EACCES: only in PATH directories this user cannot search).
      if (e.code === 'ENOENT' || e.code === 'EACCES') missing = true;
      else reject(new Oci2fsError(ErrorCode.IO, `Cannot run ${python} to set exact timestamps: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      if (missing) resolve(false);
      else if (code === 0) resolve(true);
      else reject(new Oci2fsError(ErrorCode.IO, `${python} failed setting exact timestamps under ${cwd}: ${Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join('; ')}`));
    });
    child.stdin.end(nsRecords(times));
  });
}
