/**
 * Cross-process, cross-host locks that work on NFS (no flock/fcntl, which
 * NFS implements unreliably or not at all).
 *
 * Taking: write a unique file holding our identity, then link(2) it to the
 * lock name. link is atomic on every NFS version; when its reply is lost, the
 * unique file's link count (2 = we won) tells the truth. The lock file appears
 * complete, never half-written.
 * Holding: a heartbeat refreshes the lock's mtime every `heartbeatMs`.
 * Breaking: a lock whose mtime is older than `staleMs` (holder frozen, dead or
 * its host gone), or whose holder is a dead pid of our own host and pid
 * namespace, is renamed away (one breaker wins the rename) and re-taken.
 * Waiting: bounded exponential backoff with jitter. See docs/store.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { link, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { ioError } from './atomic.js';

/** Heartbeat period: the holder refreshes the lock's mtime this often. */
export const LOCK_HEARTBEAT_MS = 5_000;
/** A lock not refreshed for this long is considered abandoned (6 missed heartbeats; allows clock skew). */
export const LOCK_STALE_MS = 30_000;
/** First and largest sleep between attempts while waiting. */
export const LOCK_MIN_BACKOFF_MS = 20;
export const LOCK_MAX_BACKOFF_MS = 1_000;

export interface LockOptions {
  /** Break locks whose heartbeat is older than this (default LOCK_STALE_MS). */
  staleMs?: number;
  /** Heartbeat period (default LOCK_HEARTBEAT_MS; keep well below staleMs). */
  heartbeatMs?: number;
  /** Give up with E_STORE after waiting this long (default: wait as long as the holder is alive). */
  timeoutMs?: number;
  /** Called once if the lock is busy and we start waiting. */
  onWait?: () => void;
}

/** What a lock file holds (JSON). */
interface LockInfo {
  host: string;
  /** Kernel boot id + pid namespace: pids are comparable only when these match. */
  node: string;
  pid: number;
  token: string;
}

let nodeIdentity: string | undefined;
/** Identifies "same kernel, same pid namespace" (Linux); empty elsewhere. */
function nodeId(): string {
  if (nodeIdentity === undefined) {
    let boot = '';
    let ns = '';
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      ns = readlinkSync('/proc/self/ns/pid');
    } catch {
      boot = '';
    }
    nodeIdentity = boot && ns ? `${boot}/${ns}` : '';
  }
  return nodeIdentity;
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as LockInfo;
    return typeof v.token === 'string' && typeof v.pid === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** A lock name as a safe file name: readable when it already is one, hashed otherwise. */
export function lockFileName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  if (safe === name && name.length <= 120 && !name.startsWith('.')) return `${name}.lock`;
  const h = createHash('sha256').update(name).digest('hex').slice(0, 16);
  return `${safe.slice(0, 80).replace(/^\.+/, '_')}-${h}.lock`;
}

/** A held lock. Release it exactly once (use Store.withLock). */
export class FileLock {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private lostFlag = false;

  private constructor(
    readonly path: string,
    private readonly token: string,
    heartbeatMs: number,
  ) {
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.beat());
    }, heartbeatMs);
    this.timer.unref();
  }

  /** True if someone broke our lock while we held it (we were frozen past staleMs). */
  get lost(): boolean {
    return this.lostFlag;
  }

  private async beat(): Promise<void> {
    if (this.lostFlag) return;
    try {
      const info = parseInfo(await readFile(this.path, 'utf8'));
      if (info?.token !== this.token) {
        this.lostFlag = true;
        return;
      }
      const now = new Date();
      await utimes(this.path, now, now);
    } catch {
      // ENOENT: a breaker may have moved our lock aside for a moment and is putting it back;
      // a real loss shows up as another token at a later beat. Other errors: retry next beat.
    }
  }

  /** Takes the lock at `path`, waiting while a live holder has it. */
  static async acquire(path: string, opts: LockOptions = {}): Promise<FileLock> {
    const staleMs = opts.staleMs ?? LOCK_STALE_MS;
    const heartbeatMs = opts.heartbeatMs ?? Math.min(LOCK_HEARTBEAT_MS, Math.max(10, Math.floor(staleMs / 3)));
    const info: LockInfo = { host: hostname(), node: nodeId(), pid: process.pid, token: randomBytes(12).toString('hex') };
    const mine = `${path}.${info.token}`;
    try {
      await writeFile(mine, JSON.stringify(info) + '\n', { flag: 'wx', mode: 0o644 });
    } catch (e) {
      throw ioError(`create lock file ${mine}`, e);
    }
    const started = Date.now();
    let backoff = LOCK_MIN_BACKOFF_MS;
    let waited = false;
    try {
      for (;;) {
        if (await tryLink(mine, path)) return new FileLock(path, info.token, heartbeatMs);
        if (await breakIfStale(path, staleMs, heartbeatMs)) continue;
        if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) {
          throw new Oci2fsError(
            ErrorCode.STORE,
            `Timed out after ${opts.timeoutMs} ms waiting for lock ${path} (${await describeHolder(path)}); ` +
              `if no oci2fs process is running, remove that file`,
          );
        }
        if (!waited) {
          waited = true;
          opts.onWait?.();
        }
        await sleep(backoff / 2 + Math.random() * (backoff / 2));
        backoff = Math.min(LOCK_MAX_BACKOFF_MS, backoff * 2);
      }
    } finally {
      await unlink(mine).catch(() => {});
    }
  }

  /** Stops the heartbeat and removes the lock if it is still ours. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
    try {
      const info = parseInfo(await readFile(this.path, 'utf8'));
      if (info?.token === this.token) await unlink(this.path);
      else this.lostFlag = true;
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw ioError(`release lock ${this.path}`, e);
      this.lostFlag = true;
    }
  }
}

/** link(mine, path); on an ambiguous failure, the link count of `mine` decides. */
async function tryLink(mine: string, path: string): Promise<boolean> {
  try {
    await link(mine, path);
    return true;
  } catch (e) {
    if (errno(e) === 'EEXIST') return false;
    try {
      if ((await stat(mine)).nlink === 2) return true;
    } catch {
      /* fall through to the original error */
    }
    throw ioError(`take lock ${path}`, e);
  }
}

/** Breaks the lock at `path` if it is abandoned. True if it is gone now (retry at once). */
async function breakIfStale(path: string, staleMs: number, heartbeatMs: number): Promise<boolean> {
  let st;
  let text;
  try {
    st = await stat(path);
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return true;
    throw ioError(`read lock ${path}`, e);
  }
  const info = parseInfo(text);
  const age = Date.now() - st.mtimeMs;
  const deadHolder =
    info !== undefined &&
    info.host === hostname() &&
    info.node !== '' &&
    info.node === nodeId() &&
    info.pid !== process.pid &&
    !pidAlive(info.pid);
  // An unparsable lock file is either garbage or a foreign tool's: treat it like a silent holder.
  const stale = age > staleMs || deadHolder || (info === undefined && age > heartbeatMs * 2);
  if (!stale) return false;
  // Only one breaker wins this rename; the others see ENOENT and retry.
  const aside = `${path}.stale.${randomBytes(6).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if (errno(e) === 'ENOENT') return true;
    throw ioError(`break stale lock ${path}`, e);
  }
  try {
    const moved = parseInfo(await readFile(aside, 'utf8'));
    if (info !== undefined && moved?.token !== info.token) {
      // Between our look and our rename the stale lock was replaced by a live one: put it back.
      await link(aside, path).catch(() => {});
    }
  } finally {
    await unlink(aside).catch(() => {});
  }
  return true;
}

async function describeHolder(path: string): Promise<string> {
  try {
    const info = parseInfo(await readFile(path, 'utf8'));
    return info ? `held by pid ${info.pid} on ${info.host}` : 'unreadable lock file';
  } catch {
    return 'holder unknown';
  }
}
