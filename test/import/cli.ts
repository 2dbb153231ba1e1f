/** Spawning the built CLI in integration tests. */
import { spawn } from 'node:child_process';
import { delimiter, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/import → dist/src/bin/oci2fs.js, the bundled CLI */
export const CLI = resolve(here, '..', '..', 'src', 'bin', 'oci2fs.js');
/** dist/test/import → bin/oci2fs, the package's bin (a launcher that starts node on CLI) */
export const LAUNCHER = resolve(here, '..', '..', '..', 'bin', 'oci2fs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolveP, reject) => {
    const child = spawn(LAUNCHER, args, {
      // this node first on PATH, for the launcher's `exec node`
      env: { ...process.env, ...opts.env, PATH: [dirname(process.execPath), opts.env?.PATH ?? process.env.PATH ?? ''].join(delimiter) },
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveP({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * The bundled CLI run by this node directly (not the launcher, which puts
 * node's directory first on PATH), with `binDir` first on PATH: for tests
 * that wrap the tools we run (igzip, openssl) with their own scripts.
 */
export function runCliWithToolsFrom(binDir: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolveP, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveP({ code: code ?? -1, stderr }));
  });
}

/** Runs a tool and returns stdout; throws with its stderr on failure. */
export function tool(cmd: string, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolveP, reject) => {
    const child = spawn(cmd, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveP(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
    if (input) child.stdin!.end(input);
  });
}
