/**
 * createCredentialResolver: the credential for a registry, from the sources
 * documented in docs/auth.md, in order. Reads files lazily, once per resolver.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { ErrorCode, Oci2fsError } from '../errors.js';
import type { Credential, CredentialResolver, CredentialSource } from './types.js';
import {
  type AuthFile,
  canonicalHost,
  entryCredential,
  findAuthEntry,
  helperServerUrl,
  parseAuthFile,
} from './authfile.js';
import { helperGet } from './helper.js';
import { hostWithoutPort, parseNetrc, type NetrcEntry } from './netrc.js';
import { redactSecrets } from './redact.js';

export interface CredentialResolverOptions {
  /** `USER[:PASS]` from --creds. Without `:PASS`, the password is looked up for USER in the other sources. */
  creds?: string;
  /** --authfile: an auth.json consulted before the default locations. */
  authfile?: string;
  /** Environment (defaults to process.env): REGISTRY_AUTH_FILE, XDG_*, DOCKER_CONFIG, ENROOT_CONFIG_PATH, PATH. */
  env?: NodeJS.ProcessEnv;
  /** Home directory (defaults to os.homedir()). */
  homeDir?: string;
}

/** A resolver that can also say where a credential came from. */
export interface DetailedCredentialResolver extends CredentialResolver {
  /** Like get(), with the source's name (a file path, '--creds' or a helper) for progress messages. */
  lookup(registryHost: string, repository?: string): Promise<CredentialSource | undefined>;
}

/** Time limit for evaluating an enroot `$…` password. */
const EVAL_TIMEOUT_MS = 30_000;

type AuthFileSource = { kind: 'authfile'; path: string };
type Source = AuthFileSource | { kind: 'netrc'; path: string };

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new Oci2fsError(ErrorCode.AUTH, `cannot read credentials file ${path} (${code ?? 'error'}); check its permissions`, { cause: e });
  }
}

/** The files consulted, in order (docs/auth.md). Duplicates are removed. */
export function credentialSources(opts: CredentialResolverOptions): Source[] {
  const env = opts.env ?? process.env;
  const home = opts.homeDir ?? homedir();
  const xdgConfig = env.XDG_CONFIG_HOME || join(home, '.config');
  const list: Source[] = [];
  if (opts.authfile) list.push({ kind: 'authfile', path: opts.authfile });
  if (env.REGISTRY_AUTH_FILE) list.push({ kind: 'authfile', path: env.REGISTRY_AUTH_FILE });
  if (env.XDG_RUNTIME_DIR) list.push({ kind: 'authfile', path: join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') });
  list.push({ kind: 'authfile', path: join(xdgConfig, 'containers', 'auth.json') });
  list.push({ kind: 'authfile', path: join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json') });
  list.push({ kind: 'netrc', path: join(env.ENROOT_CONFIG_PATH || join(xdgConfig, 'enroot'), '.credentials') });
  const seen = new Set<string>();
  return list.filter((s) => (seen.has(s.path) ? false : (seen.add(s.path), true)));
}

/**
 * Evaluate an enroot `$…` password as enroot does: `/bin/sh -c "echo REST"`
 * (the user's own configuration file). As curl then reads the result as a
 * netrc token, the password is its first whitespace-separated word.
 */
async function evalPassword(path: string, machine: string, expr: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { spawn } = await import('node:child_process'); // on first use, as in helper.ts
  return new Promise((resolvePromise, reject) => {
    const child = spawn('/bin/sh', ['-c', `echo ${expr}`], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), EVAL_TIMEOUT_MS);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Oci2fsError(ErrorCode.AUTH, `cannot evaluate the password of machine ${machine} in ${path}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Oci2fsError(ErrorCode.AUTH, `evaluating the password of machine ${machine} in ${path} failed (exit ${code ?? 'by signal'})`));
      } else {
        const word = Buffer.concat(out).toString('utf8').trim().split(/\s+/)[0] ?? '';
        if (word === '') reject(new Oci2fsError(ErrorCode.AUTH, `the password of machine ${machine} in ${path} evaluated to nothing; check its command`));
        else resolvePromise(word);
      }
    });
  });
}

/** Machine names that match `host` (enroot compares without port; Docker Hub aliases are one). */
function machineMatches(machine: string, host: string): boolean {
  const want = new Set([host, hostWithoutPort(host)].map(canonicalHost));
  return want.has(canonicalHost(machine)) || want.has(canonicalHost(hostWithoutPort(machine)));
}

/** Build a resolver over --creds, --authfile, the default auth files, Docker's config and enroot's netrc. */
export function createCredentialResolver(opts: CredentialResolverOptions): DetailedCredentialResolver {
  const env = opts.env ?? process.env;
  let credsUser: string | undefined;
  let credsFull: Credential | undefined;
  if (opts.creds !== undefined) {
    const colon = opts.creds.indexOf(':');
    const user = colon >= 0 ? opts.creds.slice(0, colon) : opts.creds;
    if (user === '') throw new Oci2fsError(ErrorCode.USAGE, '--creds needs USER[:PASSWORD] with a non-empty USER');
    if (colon >= 0) credsFull = { username: user, password: opts.creds.slice(colon + 1) };
    else credsUser = user;
  }
  const sources = credentialSources(opts);
  const authFiles = new Map<string, Promise<AuthFile | undefined>>();
  const netrcs = new Map<string, Promise<NetrcEntry[] | undefined>>();
  const cache = new Map<string, Promise<CredentialSource | undefined>>();

  const loadAuthFile = (path: string) => {
    let p = authFiles.get(path);
    if (!p) {
      p = readOptional(path).then((t) => (t === undefined ? undefined : parseAuthFile(path, t)));
      authFiles.set(path, p);
    }
    return p;
  };
  const loadNetrc = (path: string) => {
    let p = netrcs.get(path);
    if (!p) {
      p = readOptional(path).then((t) => (t === undefined ? undefined : parseNetrc(t)));
      netrcs.set(path, p);
    }
    return p;
  };

  const accept = (c: Credential | undefined): boolean =>
    c !== undefined && (credsUser === undefined || ('username' in c && c.username === credsUser));

  async function fromAuthFile(path: string, host: string, repository?: string): Promise<CredentialSource | undefined> {
    const file = await loadAuthFile(path);
    if (!file) return undefined;
    const h = canonicalHost(host);
    const helper = file.credHelpers[h];
    if (helper) {
      const r = await helperGet(helper, helperServerUrl(host), env);
      if (r.kind === 'missing') {
        throw new Oci2fsError(ErrorCode.AUTH, `${path} names credential helper docker-credential-${helper} for ${h}, but it is not on PATH; install it or remove the credHelpers entry`);
      }
      if (r.kind === 'found' && accept(r.credential)) return { source: `docker-credential-${helper}`, credential: r.credential };
    }
    const found = findAuthEntry(file, host, repository);
    if (found) {
      const c = entryCredential(path, found.key, found.entry);
      if (accept(c)) return { source: path, credential: c as Credential };
    }
    if (file.credsStore && !helper) {
      // a missing store program means "nothing stored" (e.g. a desktop config copied to CI)
      const r = await helperGet(file.credsStore, helperServerUrl(host), env);
      if (r.kind === 'found' && accept(r.credential)) return { source: `docker-credential-${file.credsStore}`, credential: r.credential };
    }
    return undefined;
  }

  async function fromNetrc(path: string, host: string): Promise<CredentialSource | undefined> {
    const entries = await loadNetrc(path);
    if (!entries) return undefined;
    for (const e of entries) {
      if (!machineMatches(e.machine, host) || e.login === undefined) continue;
      if (e.password === undefined && e.passwordCommand === undefined) continue;
      if (credsUser !== undefined && e.login !== credsUser) continue;
      const password = e.passwordCommand !== undefined ? await evalPassword(path, e.machine, e.passwordCommand, env) : (e.password as string);
      return { source: path, credential: { username: e.login, password } };
    }
    return undefined;
  }

  async function lookupUncached(host: string, repository?: string): Promise<CredentialSource | undefined> {
    if (credsFull) return { source: '--creds', credential: credsFull };
    for (const s of sources) {
      const found = s.kind === 'authfile' ? await fromAuthFile(s.path, host, repository) : await fromNetrc(s.path, host);
      if (found) return found;
    }
    if (credsUser !== undefined) {
      throw new Oci2fsError(
        ErrorCode.AUTH,
        `--creds gave user ${credsUser} without a password, and no credentials file has a password for ${credsUser} at ${host}; use --creds USER:PASSWORD`,
      );
    }
    return undefined;
  }

  const lookup = (registryHost: string, repository?: string): Promise<CredentialSource | undefined> => {
    const key = `${canonicalHost(registryHost)}\u0000${repository ?? ''}`;
    let p = cache.get(key);
    if (!p) {
      p = lookupUncached(registryHost, repository).catch((e: unknown) => {
        cache.delete(key);
        if (e instanceof Oci2fsError) throw e;
        const msg = e instanceof Error ? e.message : String(e);
        throw new Oci2fsError(ErrorCode.AUTH, `looking up credentials for ${registryHost} failed: ${redactSecrets(msg, credsFull && 'password' in credsFull ? [credsFull.password] : [])}`, { cause: e });
      });
      cache.set(key, p);
    }
    return p;
  };

  return {
    lookup,
    async get(registryHost: string, repository?: string): Promise<Credential | undefined> {
      return (await lookup(registryHost, repository))?.credential;
    },
  };
}
