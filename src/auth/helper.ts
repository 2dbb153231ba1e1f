/**
 * Docker credential helpers (docker-credential-helpers protocol): run
 * `docker-credential-NAME get`, write the server URL to stdin, read
 * `{"ServerURL","Username","Secret"}` from stdout.
 */
import { ErrorCode, Oci2fsError } from '../errors.js';
import type { Credential } from './types.js';
import { IDENTITY_TOKEN_USERNAME } from './authfile.js';
import { redactSecrets } from './redact.js';

/** Prefix of every helper program name. */
export const HELPER_PREFIX = 'docker-credential-';
/** A helper that has not answered within this time is killed. */
export const HELPER_TIMEOUT_MS = 30_000;
/** At most this much helper output is read. */
const HELPER_OUTPUT_MAX = 1 << 20;
/** What helpers print when they hold nothing for the server (docker-credential-helpers `credentials.NewErrCredentialsNotFound`). */
const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';

/** The outcome of running a helper. `missing` when the program is not on PATH. */
export type HelperResult = { kind: 'found'; credential: Credential } | { kind: 'not-found' } | { kind: 'missing' };

/** Run a helper program; resolves with stdout, stderr and exit code, or 'missing' for ENOENT. */
async function run(
  program: string,
  args: string[],
  input: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string } | 'missing'> {
  // loaded on first use: most commands never run a helper, and loading node:child_process costs a warm pull ~3 ms
  const { spawn } = await import('node:child_process');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
    const collect = (bucket: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= HELPER_OUTPUT_MAX) bucket.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.stdin.on('error', () => {
      /* a helper that exits without reading stdin: its exit status tells */
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') resolvePromise('missing');
      else reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(input);
  });
}

/**
 * Ask helper `name` for the credential of `serverUrl`. Errors name the helper
 * and server but never echo a secret: helper output is redacted and cut short.
 */
export async function helperGet(name: string, serverUrl: string, env: NodeJS.ProcessEnv): Promise<HelperResult> {
  const program = HELPER_PREFIX + name;
  let res: Awaited<ReturnType<typeof run>>;
  try {
    res = await run(program, ['get'], serverUrl, env);
  } catch (e) {
    throw new Oci2fsError(ErrorCode.AUTH, `credential helper ${program} could not be started for ${serverUrl}`, { cause: e });
  }
  if (res === 'missing') return { kind: 'missing' };
  if (res.code !== 0) {
    if (res.stdout.includes(NOT_FOUND_MESSAGE) || res.stderr.includes(NOT_FOUND_MESSAGE)) return { kind: 'not-found' };
    // helpers report errors on stdout; output that carries a Secret field is never quoted
    const raw = res.stderr.trim() || res.stdout.trim();
    const said = raw.includes('"Secret"') ? '' : raw.slice(0, 200);
    throw new Oci2fsError(
      ErrorCode.AUTH,
      `credential helper ${program} failed for ${serverUrl} (exit ${res.code ?? 'by signal'})` +
        (said ? `: ${redactSecrets(said, extractSecretLike(res.stdout))}` : ''),
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(res.stdout);
  } catch {
    throw new Oci2fsError(ErrorCode.AUTH, `credential helper ${program} printed something that is not JSON for ${serverUrl}`);
  }
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  const username = typeof d.Username === 'string' ? d.Username : '';
  const secret = typeof d.Secret === 'string' ? d.Secret : '';
  if (secret === '') return { kind: 'not-found' };
  if (username === IDENTITY_TOKEN_USERNAME) return { kind: 'found', credential: { identityToken: secret } };
  return { kind: 'found', credential: { username, password: secret } };
}

/** Any `"Secret":"…"` value in helper output, so a failing helper's message cannot leak it. */
function extractSecretLike(stdout: string): string[] {
  const out: string[] = [];
  for (const m of stdout.matchAll(/"Secret"\s*:\s*"((?:[^"\\]|\\.)*)"/g)) out.push(m[1]);
  return out;
}
