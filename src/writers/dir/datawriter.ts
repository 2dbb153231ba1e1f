/**
 * File data of the dir writer, written on the libuv thread pool while the
 * caller goes on creating entries (metadata syscalls on the main thread,
 * data copies on pool threads: the two overlap). Small chunks are written
 * synchronously; bytes and descriptors in flight are bounded. Positional
 * writes, so completion order does not matter: the bytes on disk are the
 * same whatever the thread timing.
 */
import { write as fsWrite, writeSync, ftruncateSync, closeSync } from 'node:fs';

/** Chunks smaller than this are written synchronously (a pool round trip costs more). */
export const ASYNC_WRITE_MIN = 64 * 1024;
/** Bytes handed to the thread pool and not yet written, at most (bounded memory). */
export const MAX_BYTES_IN_FLIGHT = 32 << 20;
/** Files with writes in flight, at most (each holds a descriptor). */
export const MAX_FILES_IN_FLIGHT = 128;

/** One output file being written: its descriptor belongs to the DataWriter from `begin` on. */
export interface FileJob {
  fd: number;
  /** Tree path, for error messages. */
  path: string;
  pending: number;
  ended: boolean;
  closed: boolean;
  truncateTo: number | undefined;
}

/** Writes all of `buf[off..]` at `pos` synchronously. */
export function writeAllSync(fd: number, buf: Uint8Array, off: number, pos: number): void {
  while (off < buf.length) {
    const n = writeSync(fd, buf, off, buf.length - off, pos);
    off += n;
    pos += n;
  }
}

export class DataWriter {
  private bytes = 0;
  private files = 0;
  private failure: { path: string; error: unknown } | null = null;
  private waiters: (() => void)[] = [];

  /** Takes ownership of `fd` (closed by `end`, or when its last write completes after `end`). */
  begin(fd: number, path: string): FileJob {
    return { fd, path, pending: 0, ended: false, closed: false, truncateTo: undefined };
  }

  /** Writes `chunk` at `pos` of the job's file; may wait for room. Throws a failure seen so far. */
  async write(job: FileJob, chunk: Uint8Array, pos: number): Promise<void> {
    this.check();
    if (chunk.length < ASYNC_WRITE_MIN) {
      writeAllSync(job.fd, chunk, 0, pos);
      return;
    }
    while (this.bytes > 0 && (this.bytes + chunk.length > MAX_BYTES_IN_FLIGHT || (job.pending === 0 && this.files >= MAX_FILES_IN_FLIGHT))) {
      await this.completion();
      this.check();
    }
    this.issue(job, chunk, 0, pos);
  }

  private issue(job: FileJob, chunk: Uint8Array, off: number, pos: number): void {
    const len = chunk.length - off;
    this.bytes += len;
    if (job.pending++ === 0) this.files++;
    fsWrite(job.fd, chunk, off, len, pos, (err, n) => {
      this.bytes -= len;
      if (err !== null) this.fail(job.path, err);
      else if (n < len) this.issue(job, chunk, off + n, pos + n);
      if (--job.pending === 0) {
        this.files--;
        this.settle(job);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** No more writes for `job`; `truncateTo` sets the final size (sparse files). Closes once its writes are done. */
  end(job: FileJob, truncateTo?: number): void {
    job.ended = true;
    job.truncateTo = truncateTo;
    this.settle(job);
  }

  private settle(job: FileJob): void {
    if (!job.ended || job.pending > 0 || job.closed) return;
    job.closed = true;
    try {
      if (job.truncateTo !== undefined && this.failure === null) ftruncateSync(job.fd, job.truncateTo);
    } catch (e) {
      this.fail(job.path, e);
    } finally {
      closeSync(job.fd);
    }
  }

  private fail(path: string, error: unknown): void {
    this.failure ??= { path, error };
  }

  private completion(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The first failure so far, if any: its tree path and error. */
  get failed(): { path: string; error: unknown } | null {
    return this.failure;
  }

  private check(): void {
    if (this.failure !== null) throw this.failure.error;
  }

  /** Waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    while (this.bytes > 0) await this.completion();
    this.check();
  }
}
