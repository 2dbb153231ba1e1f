/**
 * Renders download progress events on a terminal: one line per blob (bytes,
 * rate, ETA) and a total line, redrawn in place at most PROGRESS_REDRAW_MS
 * apart. Only used when stderr is a TTY; otherwise nothing is drawn.
 */
import type { ProgressEvent, ProgressListener } from '../events.js';
import type { CommandIO } from './command.js';

/** Minimum time between redraws. */
export const PROGRESS_REDRAW_MS = 100;
/** Rate is averaged over this window. */
const RATE_WINDOW_MS = 3_000;
/** At most this many blob lines are shown (the rest are summed in the total). */
const MAX_LINES = 12;

interface Row {
  digest: string;
  size: number;
  bytes: number;
  state: 'wait' | 'run' | 'done' | 'cached';
  samples: { t: number; bytes: number }[];
}

/** "12.3 MiB" */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function formatEta(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '--';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function rateOf(samples: { t: number; bytes: number }[]): number {
  if (samples.length < 2) return 0;
  const a = samples[0];
  const b = samples[samples.length - 1];
  return b.t > a.t ? ((b.bytes - a.bytes) * 1000) / (b.t - a.t) : 0;
}

export interface ProgressDisplay {
  listener: ProgressListener;
  /** Draws the final state and stops. */
  finish(): void;
}

/** A display on `out` (a TTY stream); `now` is injectable for tests. */
export function createProgress(out: NodeJS.WritableStream, now: () => number = Date.now): ProgressDisplay {
  const rows = new Map<string, Row>();
  const order: string[] = [];
  let drawn = 0;
  let last = 0;
  let note = '';

  const row = (digest: string, size: number): Row => {
    let r = rows.get(digest);
    if (!r) {
      r = { digest, size, bytes: 0, state: 'run', samples: [] };
      rows.set(digest, r);
      order.push(digest);
    }
    return r;
  };

  const draw = (force: boolean) => {
    const t = now();
    if (!force && t - last < PROGRESS_REDRAW_MS) return;
    last = t;
    const lines: string[] = [];
    let total = 0;
    let have = 0;
    let rate = 0;
    for (const d of order) {
      const r = rows.get(d)!;
      total += r.size;
      have += r.bytes;
      const rr = r.state === 'run' ? rateOf(r.samples) : 0;
      rate += rr;
      if (lines.length >= MAX_LINES) continue;
      const name = r.digest.slice(7, 19);
      const status =
        r.state === 'cached' ? 'cached' : r.state === 'done' ? 'done' : r.state === 'wait' ? 'waiting for another process' : `${formatBytes(rr)}/s ETA ${formatEta((r.size - r.bytes) / rr)}`;
      lines.push(`${name}  ${formatBytes(r.bytes).padStart(10)} / ${formatBytes(r.size).padEnd(10)} ${status}`);
    }
    const allDone = order.every((d) => rows.get(d)!.state === 'done' || rows.get(d)!.state === 'cached');
    lines.push(
      allDone
        ? `total  ${formatBytes(total)}  done`
        : `total  ${formatBytes(have)} / ${formatBytes(total)}  ${formatBytes(rate)}/s  ETA ${formatEta((total - have) / rate)}${note ? '  ' + note : ''}`,
    );
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) s += `\r\x1b[2K${l}\n`;
    out.write(s);
    drawn = lines.length;
  };

  const listener = (e: ProgressEvent) => {
    const t = now();
    switch (e.type) {
      case 'blob-start': {
        const r = row(e.digest, e.size);
        r.state = 'run';
        r.size = e.size;
        r.bytes = e.resumeFrom;
        r.samples = [{ t, bytes: e.resumeFrom }];
        break;
      }
      case 'blob-progress': {
        const r = row(e.digest, e.size);
        r.state = 'run';
        r.size = e.size;
        r.bytes = e.bytes;
        r.samples.push({ t, bytes: e.bytes });
        while (r.samples.length > 2 && t - r.samples[0].t > RATE_WINDOW_MS) r.samples.shift();
        break;
      }
      case 'blob-done': {
        const r = row(e.digest, e.size);
        r.state = e.cached ? 'cached' : 'done';
        r.size = e.size;
        r.bytes = e.size;
        break;
      }
      case 'blob-wait':
        row(e.digest, 0).state = 'wait';
        break;
      case 'retry':
        note = `retrying (${e.reason})`;
        break;
      default:
        return;
    }
    draw(e.type === 'blob-done');
  };

  return {
    listener,
    finish() {
      if (order.length) draw(true);
    },
  };
}

/**
 * The progress listener for a command: a display on stderr when it is a TTY
 * and --quiet/--json were not given, else undefined (nothing is drawn).
 */
export function progressListener(values: Record<string, unknown>, io: CommandIO): ProgressListener | undefined {
  if (values.quiet === true || values.json === true || !io.stderr.isTTY) return undefined;
  return createProgress(io.stderr).listener;
}
