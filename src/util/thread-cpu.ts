/**
 * CPU time of the calling thread, for statistics such as the squashfs
 * writer's `compress-seconds`: wall time around a call counts the time the
 * thread waited for a core too, which on two busy cores is much of it.
 * Node 20 has no per-thread CPU clock (`process.threadCpuUsage` is newer),
 * so this reads the thread's own utime and stime from proc(5).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of proc(5)'s times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;
/** Where the kernel publishes the calling thread's statistics (Linux ≥ 3.17). */
const THREAD_STAT = '/proc/thread-self/stat';

let unavailable = false;

/**
 * Milliseconds of CPU this thread has used (user + system, in steps of
 * 1000 / USER_HZ), or null where proc(5) does not say (not Linux).
 */
export function threadCpuMs(): number | null {
  if (unavailable) return null;
  let stat: string;
  try {
    stat = readFileSync(THREAD_STAT, 'latin1');
  } catch {
    unavailable = true;
    return null;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count after the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line; fields[0] is field 3 (state)
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : null;
}

/** A clock for timing synchronous work on this thread: its CPU time where known, else wall time (ms). */
export function cpuClockMs(): number {
  return threadCpuMs() ?? performance.now();
}
