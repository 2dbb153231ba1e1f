/**
 * A small pool of worker threads running one script: tasks are handed to
 * whichever worker is free, in submission order. Results carry no timing
 * dependence (callers key them by task), so outputs stay deterministic.
 */
import { parentPort, Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { Oci2fsError, ErrorCode, type ErrorCodeValue } from '../errors.js';

/**
 * What a worker posts back: a result, or an error message with its code —
 * an oci2fs ErrorCode (rebuilt as that Oci2fsError) or an errno code (an E_IO
 * whose cause carries it).
 */
export type WorkerReply<R> = { ok: true; result: R } | { ok: false; message: string; code?: string };

const OCI2FS_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** The error a failed reply stands for (see WorkerReply). */
export function errorFromReply(reply: { message: string; code?: string }): Oci2fsError {
  if (reply.code !== undefined && OCI2FS_CODES.has(reply.code)) return new Oci2fsError(reply.code as ErrorCodeValue, reply.message);
  const cause = Object.assign(new Error(reply.message), reply.code ? { code: reply.code } : {});
  return new Oci2fsError(ErrorCode.IO, reply.message, { cause });
}

/** The reply a worker posts for a thrown error (see WorkerReply). */
export function errorReply(e: unknown): { ok: false; message: string; code?: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return { ok: false, message: e instanceof Error ? e.message : String(e), ...(typeof code === 'string' ? { code } : {}) };
}

interface Task<R> {
  msg: unknown;
  transfer: ArrayBuffer[];
  resolve: (r: R) => void;
  reject: (e: Error) => void;
}

/**
 * Worker side of a pool: answers every task posted to this thread with
 * `run`'s result (and the buffers `transfer` names, moved not copied) or with
 * the error it threw or rejected with (see WorkerReply).
 */
export function serveTasks<T, R>(run: (task: T) => R | Promise<R>, transfer: (result: R) => ArrayBuffer[] = () => []): void {
  const port = parentPort;
  if (!port) return;
  port.on('message', (task: T) => {
    // Promise.resolve().then: a synchronous throw becomes a rejection too.
    Promise.resolve()
      .then(() => run(task))
      .then(
        (result) => port.postMessage({ ok: true, result } satisfies WorkerReply<R>, transfer(result)),
        (e: unknown) => port.postMessage(errorReply(e)),
      );
  });
}

/** Worker threads to use by default: one per available core. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

export class WorkerPool<R> {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Task<R>[] = [];
  private readonly current = new Map<Worker, Task<R>>();
  private closed = false;

  /** `name` says what the workers do, in error messages ("fs-verity", "layer spill"). */
  constructor(script: URL, threads: number = defaultThreads(), private readonly name = 'worker') {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(script);
      w.on('message', (reply: WorkerReply<R>) => this.done(w, reply));
      w.on('error', (e: Error) => this.fail(w, e));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(w, new Error(`${this.name} worker exited with code ${code}`));
      });
      this.all.push(w);
      this.idle.push(w);
    }
  }

  /** Runs one task on the next free worker. */
  run(msg: unknown, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.closed) return Promise.reject(new Oci2fsError(ErrorCode.INTERNAL, 'worker pool used after close()'));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ msg, transfer, resolve, reject });
      this.pump();
    });
  }

  /** Tasks queued or running. */
  get pending(): number {
    return this.queue.length + this.current.size;
  }

  /** Stops every worker (pending tasks are rejected). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Oci2fsError(ErrorCode.INTERNAL, 'worker pool closed'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop() as Worker;
      const t = this.queue.shift() as Task<R>;
      this.current.set(w, t);
      w.postMessage(t.msg, t.transfer);
    }
  }

  private done(w: Worker, reply: WorkerReply<R>): void {
    const t = this.current.get(w);
    this.current.delete(w);
    this.idle.push(w);
    if (t) {
      if (reply.ok) t.resolve(reply.result);
      else {
        t.reject(errorFromReply(reply));
      }
    }
    this.pump();
  }

  private fail(w: Worker, e: Error): void {
    // A crashed worker is not reused, and callers abort on the first error:
    // reject its task and everything queued so nothing waits forever.
    const idx = this.idle.indexOf(w);
    if (idx >= 0) this.idle.splice(idx, 1);
    const t = this.current.get(w);
    this.current.delete(w);
    const err = (): Oci2fsError => new Oci2fsError(ErrorCode.INTERNAL, `${this.name} worker failed: ${e.message}`, { cause: e });
    t?.reject(err());
    for (const q of this.queue.splice(0)) q.reject(err());
  }
}
