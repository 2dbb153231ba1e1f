/**
 * Runs a command under GNU time and returns wall time, CPU time and peak RSS.
 * Benchmarks compare our command and a reference tool measured the same way.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The programs the steps run: node and our build, and the reference tools.
 * After the page cache is dropped they are read once (untimed), so a step
 * starts with its program in memory and its data on disk: "cold" means the
 * image and store, not the tool (node alone is 99 MB, 0.2 s to read here,
 * which dominated the sub-second steps).
 */
const PROGRAMS = ['node', 'skopeo', 'umoci', 'mksquashfs', 'tar2sqfs', 'mkfs.erofs', 'mkfs.ext4', 'debugfs', 'fsverity', 'tar', 'sh'];
const BUILD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function warmPrograms(): void {
  const script = [
    `for p in ${PROGRAMS.join(' ')}; do b=$(command -v $p) || continue; cat "$b"; ldd "$b" 2>/dev/null | awk '/\\//{print $3}' | xargs -r cat; done`,
    `find ${BUILD_DIR} ${resolve(BUILD_DIR, '..', 'node_modules')} ${resolve(BUILD_DIR, '..', 'bin')} -type f -exec cat {} +`,
  ].join('; ');
  spawnSync('sh', ['-c', `{ ${script}; } > /dev/null 2>&1`]);
}

export interface Measurement {
  label: string;
  wallS: number;
  userS: number;
  sysS: number;
  maxRssMb: number;
  ok: boolean;
  stderrTail: string;
}

/** Runs `sh -c script` under /usr/bin/time; never throws (a failure is reported as ok=false). */
export function measure(label: string, script: string, env: NodeJS.ProcessEnv = process.env): Promise<Measurement> {
  // Earlier steps' dirty pages are written back first (untimed), so one
  // step's writeback does not slow the next one down.
  spawnSync('sync');
  // BENCH_DROP_CACHES (root) starts steps with a cold page cache, which evens
  // out the VM effects described in docs/benchmarks.md: `1` every step (a
  // reference chain then re-reads its unpacked tree from disk: favours us),
  // `ours` only oci2fs steps (our inputs from disk, the chain's warm: favours
  // the reference).
  const drop = process.env.BENCH_DROP_CACHES;
  if (drop === '1' || (drop === 'ours' && script.startsWith('node '))) {
    spawnSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
    warmPrograms();
  }
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-bench-'));
  const timeFile = join(dir, 'time');
  return new Promise((resolveP) => {
    const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', 'sh', '-c', script], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    child.on('close', (code) => {
      let wallS = NaN, userS = NaN, sysS = NaN, maxRssMb = NaN;
      try {
        const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
        const [e, u, s, m] = last.split(' ').map(Number);
        wallS = e; userS = u; sysS = s; maxRssMb = m / 1024;
      } catch {
        /* time did not write: the command could not start */
      }
      rmSync(dir, { recursive: true, force: true });
      resolveP({ label, wallS, userS, sysS, maxRssMb, ok: code === 0, stderrTail: err });
    });
  });
}

export function formatRow(m: Measurement): string {
  const cpu = (m.userS + m.sysS).toFixed(1);
  return `  ${m.label.padEnd(44)} wall ${m.wallS.toFixed(2).padStart(7)} s  cpu ${cpu.padStart(6)} s  rss ${m.maxRssMb.toFixed(0).padStart(5)} MB${m.ok ? '' : '  FAILED: ' + m.stderrTail.trim().split('\n').pop()}`;
}

export function ratio(ours: Measurement, ref: Measurement): string {
  if (!ours.ok || !ref.ok) return 'n/a (a run failed)';
  return `${(ours.wallS / ref.wallS).toFixed(3)}x wall, ${((ours.userS + ours.sysS) / (ref.userS + ref.sysS)).toFixed(3)}x cpu`;
}
