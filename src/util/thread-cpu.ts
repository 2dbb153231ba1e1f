/**
 * CPU time of the calling thread, for statistics such as the squashfs
 * writer's `compress-seconds`: wall time around a call counts the time the
 * thread waited for a core too, which on two busy cores is much of it.
 * Node 20 has no per-thread CPU clock (`process.threadCpuUsage` is newer),
 * so this reads the thread's own counters from proc(5): `schedstat` (time
 * on a CPU in nanoseconds, brought up to date at scheduler ticks and
 * switches, so a call shorter than a tick may read as 0), else `stat`
 * (utime + stime in clock ticks; proc(5) scales them to the same clock).
 * A running thread's reading lags by up to a tick, so a span is exact to a
 * tick or two; but per-call sums are only fair on a thread that stays busy.
 * A thread that sleeps between short calls is brought up to date as it
 * falls asleep, so a reading as it wakes and one a millisecond later often
 * agree: such sums read far too low (1 MiB zstd blocks on the compression
 * workers: ~60% of the CPU perf sampled; 128 KiB gzip blocks: ~10%). Take
 * one running total there instead (writers/compressors/worker.ts).
 */
import { readFileSync } from 'node:fs';

/** The calling thread's "time spent on the cpu (ns) ..." line (Linux, CONFIG_SCHED_INFO). */
const THREAD_SCHEDSTAT = '/proc/thread-self/schedstat';
/** The calling thread's statistics line (Linux ≥ 3.17). */
const THREAD_STAT = '/proc/thread-self/stat';
/** Clock ticks per second of proc(5)'s utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

let source: 'schedstat' | 'stat' | 'none' | undefined;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/**
 * Milliseconds of CPU this thread has used, or null where proc(5) does not
 * say (not Linux).
 */
export function threadCpuMs(): number | null {
  if (source === undefined || source === 'schedstat') {
    const line = read(THREAD_SCHEDSTAT);
    const ns = line === null ? NaN : Number(line.split(' ')[0]);
    if (Number.isFinite(ns)) {
      source = 'schedstat';
      return ns / 1e6;
    }
    source = 'stat';
  }
  if (source === 'stat') {
    const stat = read(THREAD_STAT);
    if (stat !== null) {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count after the last ")";
      // utime and stime are fields 14 and 15 of the line, fields[0] is field 3 (state)
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (Number.isFinite(ticks)) return (ticks * 1000) / USER_HZ;
    }
    source = 'none';
  }
  return null;
}

/** A clock for timing synchronous work on this thread: its CPU time where known, else wall time (ms). */
export function cpuClockMs(): number {
  return threadCpuMs() ?? performance.now();
}
