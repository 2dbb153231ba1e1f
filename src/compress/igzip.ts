/**
 * gzip layers through ISA-L's `igzip` program (Debian/Ubuntu package `isal`),
 * when installed and the native addon has no ISA-L inflate of its own
 * (native-inflate.ts, preferred: one pass, no pipes, hashed as decoded): it
 * inflates about 3x faster than zlib (bench layer, 130 MB → 468 MB: 0.62 s
 * of CPU against 1.9 s), the way containerd hands layers to
 * `unpigz`/`igzip` when it finds them. Nothing it produces is taken on trust:
 * - the output is hashed by us and must match the layer's diff_id;
 * - its size is capped by RLIMIT_FSIZE (`prlimit --fsize`): past the
 *   decompression-bomb limit the kernel stops it with SIGXFSZ;
 * - igzip ends quietly at the first bytes after a member that do not start
 *   another one, where our zlib decoder rejects anything but NUL padding. So
 *   igzip's success counts only when the file ends with a gzip trailer whose
 *   ISIZE is the output size (RFC 1952 §2.3.1), then NULs at most. Anything
 *   else (a multi-member stream included) is decoded again by zlib, whose
 *   verdict is the one every machine gives.
 * `OCI2FS_IGZIP=0` turns it off.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsc, fstatSync, openSync, readSync, closeSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Layers smaller than this (compressed) are not worth a process spawn (~5 ms). */
export const IGZIP_MIN_BYTES = 1 << 20;
/** gzip member trailer: CRC32 then ISIZE, 4 bytes each (RFC 1952 §2.3.1). */
const GZIP_TRAILER = 8;
/** How much of the file's end is searched for the trailer behind NUL padding. */
const TRAILER_SEARCH = 64 << 10;

export interface IgzipTools {
  igzip: string;
  prlimit: string;
  /** GNU dd, for reading blobs with O_DIRECT (null: igzip reads them by path). */
  dd: string | null;
}

/** dd's block size for O_DIRECT reads: a multiple of every logical block size, large enough to keep the device busy. */
export const DIRECT_READ_BYTES = 1 << 20;

let found: IgzipTools | null | undefined;

/** First executable called `name` on PATH. */
export function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** igzip and prlimit when both are installed and igzip is not turned off; looked up once. */
export function igzipTools(): IgzipTools | null {
  if (found !== undefined) return found;
  const igzip = process.env.OCI2FS_IGZIP === '0' ? null : onPath('igzip');
  const prlimit = igzip ? onPath('prlimit') : null;
  found = igzip && prlimit ? { igzip, prlimit, dd: onPath('dd') } : null;
  return found;
}

export type IgzipOutcome =
  /** Decoded; the caller hashes what was written. */
  | { kind: 'ok' }
  /** The output reached `maxOutput` bytes (SIGXFSZ). */
  | { kind: 'limit' }
  /** igzip failed or its verdict cannot be trusted to match zlib's: decode with zlib instead. */
  | { kind: 'retry'; reason: string };

/**
 * Runs `igzip -d -c src` with its stdout on `outFd` (a new, empty file),
 * writing at most `maxOutput` bytes. With `direct` (and dd installed), igzip
 * reads `src` from a pipe that `dd iflag=direct` fills (see directReadable):
 * the blob bypasses the page cache, and no thread of ours has to keep the
 * pipe full. A failed dd makes the outcome a retry.
 */
export async function igzipToFd(tools: IgzipTools, src: string, outFd: number, maxOutput: number, direct = false): Promise<IgzipOutcome> {
  const limit = Number.isFinite(maxOutput) ? String(Math.max(1, Math.floor(maxOutput))) : 'unlimited';
  const args = [`--fsize=${limit}`, tools.igzip, '-d', '-c', '-q'];
  if (!direct || !tools.dd) return childOutcome(tools.igzip, spawn(tools.prlimit, [...args, src], { stdio: ['ignore', outFd, 'pipe'] }));
  const reader = spawn(tools.dd, [`if=${src}`, `bs=${DIRECT_READ_BYTES}`, 'iflag=direct', 'status=none'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const readerDone = childOutcome(tools.dd, reader);
  const child = spawn(tools.prlimit, args, { stdio: [reader.stdout, outFd, 'pipe'] });
  // igzip holds the pipe's read end now; with ours closed, dd gets EPIPE if igzip stops early
  reader.stdout.destroy();
  const outcome = await childOutcome(tools.igzip, child);
  const read = await readerDone;
  if (outcome.kind === 'ok' && read.kind !== 'ok') return { kind: 'retry', reason: `reading ${src} with dd failed: ${read.kind === 'retry' ? read.reason : read.kind}` };
  return outcome;
}

/** How a run of `program` (igzip, or dd feeding it) ended (see IgzipOutcome). */
function childOutcome(program: string, child: ChildProcess): Promise<IgzipOutcome> {
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      if (stderr.length < 1000) stderr += s;
    });
    child.on('error', (e) => resolve({ kind: 'retry', reason: `cannot run ${program}: ${e.message}` }));
    child.on('close', (code, signal) => {
      if (signal === 'SIGXFSZ') resolve({ kind: 'limit' });
      else if (code === 0) resolve({ kind: 'ok' });
      else resolve({ kind: 'retry', reason: `${program} ${signal ? `killed by ${signal}` : `exit ${code}`}: ${stderr.trim()}` });
    });
  });
}

/**
 * Whether `src` ends with a gzip trailer whose ISIZE is `outputSize` mod
 * 2^32, followed by nothing but NUL bytes.
 */
export function endsWithTrailerFor(src: string, outputSize: number): boolean {
  const fd = openSync(src, 'r');
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, TRAILER_SEARCH);
    const tail = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const k = readSync(fd, tail, got, n - got, size - n + got);
      if (k === 0) return false;
      got += k;
    }
    const isize = outputSize % 2 ** 32;
    // candidate trailer ends: the file's end, then before each trailing NUL
    for (let end = n; end >= GZIP_TRAILER; end--) {
      if (tail.readUInt32LE(end - 4) === isize) return true;
      if (tail[end - 1] !== 0) return false;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}
