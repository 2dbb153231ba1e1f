/**
 * Runs the built CLI (this build's dist dir) as a child process, the way
 * users and scripts do. Shared by the test/pull integration tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { delimiter, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// <dist>/test/pull → <dist>/src/bin/oci2fs.js, the bundled CLI
export const CLI = resolve(here, '..', '..', 'src', 'bin', 'oci2fs.js');
/** <dist>/test/pull → bin/oci2fs, the package's bin: the launcher that starts node on CLI */
export const LAUNCHER = resolve(here, '..', '..', '..', 'bin', 'oci2fs');
/** PATH with this node first, for the launcher's `exec node`. */
export const PATH_WITH_NODE = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `oci2fs ARGS...` through the package's bin; `done` settles when it exits. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(LAUNCHER, args, {
    env: { PATH: PATH_WITH_NODE, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliResult>((res, rej) => {
    child.once('error', rej);
    child.once('close', (code, signal) => res({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs `oci2fs ARGS...` to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}
