/**
 * The diffID hash of a spilled layer computed by `openssl dgst -sha256`
 * (Debian package `openssl`), when installed, instead of on a thread of ours.
 *
 * With igzip decoding and openssl hashing, a gzip layer spills without any
 * worker thread: starting one costs ~0.1 s of CPU (node's bootstrap and our
 * modules), four of them ~0.4 s, at the moment the layers' decoding should
 * start (two cores). openssl hashes at the speed node's crypto does (same
 * library, SHA extensions): 468 MB in 0.41 s against 0.45 s. Its answer is
 * parsed strictly (64 lowercase hex digits for the one file); anything else
 * is an error, and the caller hashes the file itself.
 * `OCI2FS_OPENSSL=0` turns it off.
 */
import { spawn } from 'node:child_process';
import { onPath } from './igzip.js';

let found: string | null | undefined;

/** The openssl executable, unless missing or turned off; looked up once. */
export function opensslTool(): string | null {
  if (found === undefined) found = process.env.OCI2FS_OPENSSL === '0' ? null : onPath('openssl');
  return found;
}

/** `openssl dgst -sha256 -r` output for one file: the digest, a space, "*" (binary mode), the name. */
const DGST_LINE = /^([0-9a-f]{64}) \*/;

/** Largest output we read from openssl (one line). */
const MAX_OUTPUT = 64 << 10;

/** sha256 (hex) of the file at `path`, computed by `openssl`; rejects when it fails or says something unexpected. */
export function sha256ByProcess(openssl: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(openssl, ['dgst', '-sha256', '-r', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      if (out.length < MAX_OUTPUT) out += s;
    });
    child.stderr.on('data', (s: string) => {
      if (err.length < 1000) err += s;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const m = DGST_LINE.exec(out);
      if (code === 0 && m && out.indexOf('\n') === out.length - 1) resolve(m[1]);
      else reject(new Error(`${openssl} dgst ${signal ? `killed by ${signal}` : `exit ${code}`}: ${(err || out).trim().slice(0, 200)}`));
    });
  });
}
