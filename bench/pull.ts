/**
 * Pull benchmark: cold `oci2fs pull` (empty store) vs `skopeo copy
 * docker://… oci:…` of the same image, and a warm pull (everything cached).
 * Reports wall time, CPU (user+sys) and peak RSS of each child process, via
 * GNU time when installed, and the ratio ours/skopeo.
 *
 *   BENCH_REF=127.0.0.1:5000/bench/big:latest node dist/bench/pull.js
 *
 * The registry must be plain HTTP on loopback (as the bench-images scripts
 * set up). If BENCH_REF is unset or its registry does not answer, prints why
 * and exits 0.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** GNU time: elapsed s, user s, sys s, max RSS KiB. */
const GNU_TIME = '/usr/bin/time';
const TIME_FORMAT = 'BENCH-TIME %e %U %S %M';
/** How long the registry gets to answer /v2/. */
const PROBE_TIMEOUT_MS = 3000;

const here = dirname(fileURLToPath(import.meta.url));
const CLI = resolve(here, '..', 'src', 'cli', 'main.js');

export interface Measurement {
  label: string;
  wallSec: number;
  cpuSec?: number;
  maxRssMiB?: number;
}

async function measure(label: string, cmd: string, args: string[]): Promise<Measurement> {
  const useTime = existsSync(GNU_TIME);
  const [file, argv] = useTime ? [GNU_TIME, ['-f', TIME_FORMAT, cmd, ...args]] : [cmd, args];
  const t0 = process.hrtime.bigint();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((res, rej) => {
    const c = spawn(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8192)));
    c.once('error', rej);
    c.once('close', (code) => res({ code, stderr: err }));
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`${label} failed (exit ${code}):\n${stderr}`);
  const m = /BENCH-TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (!m) return { label, wallSec: wall };
  return { label, wallSec: Number(m[1]), cpuSec: Number(m[2]) + Number(m[3]), maxRssMiB: Number(m[4]) / 1024 };
}

async function registryAnswers(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

function row(m: Measurement): string {
  const cpu = m.cpuSec === undefined ? '-' : m.cpuSec.toFixed(2);
  const rss = m.maxRssMiB === undefined ? '-' : m.maxRssMiB.toFixed(0);
  return `${m.label.padEnd(24)} ${m.wallSec.toFixed(2).padStart(8)} ${cpu.padStart(8)} ${rss.padStart(8)}`;
}

/** Runs the benchmark; returns the measurements (empty when skipped). */
export async function benchPull(env: NodeJS.ProcessEnv = process.env): Promise<Measurement[]> {
  const ref = env.BENCH_REF;
  if (!ref) {
    console.log('bench/pull: BENCH_REF is not set (e.g. 127.0.0.1:5000/bench/big:latest); skipped');
    return [];
  }
  const host = ref.split('/')[0];
  if (!(await registryAnswers(host))) {
    console.log(`bench/pull: the registry ${host} of BENCH_REF=${ref} does not answer; start it (see /work/shared/bench-images) — skipped`);
    return [];
  }
  const dir = await mkdtemp(join(env.BENCH_TMP ?? tmpdir(), 'oci2fs-bench-pull-'));
  try {
    const store = join(dir, 'store');
    const ours = ['pull', '--quiet', '--store', store, '--insecure-registry', host, `docker://${ref}`];
    const results: Measurement[] = [];
    results.push(await measure('oci2fs pull (cold)', process.execPath, [CLI, ...ours]));
    results.push(await measure('skopeo copy (cold)', 'skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${join(dir, 'skopeo')}:bench`]));
    results.push(await measure('oci2fs pull (warm)', process.execPath, [CLI, ...ours]));
    console.log(`bench/pull: ${ref}`);
    console.log(`${'run'.padEnd(24)} ${'wall s'.padStart(8)} ${'cpu s'.padStart(8)} ${'rss MiB'.padStart(8)}`);
    for (const m of results) console.log(row(m));
    const [cold, sk] = results;
    const ratio = (a?: number, b?: number) => (a !== undefined && b ? (a / b).toFixed(2) : '-');
    console.log(`ratio ours/skopeo (cold): wall ${ratio(cold.wallSec, sk.wallSec)}, cpu ${ratio(cold.cpuSec, sk.cpuSec)}, rss ${ratio(cold.maxRssMiB, sk.maxRssMiB)}`);
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  benchPull().catch((e) => {
    console.error(`bench/pull: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}
