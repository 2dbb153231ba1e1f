/**
 * containers-auth.json(5) / Docker config.json documents: parsing and key
 * matching. Pure: the caller reads the file.
 */
import { ErrorCode, Oci2fsError } from '../errors.js';
import type { Credential } from './types.js';

/** Docker Hub's key in Docker's config.json, and the server URL its credential helpers expect. */
export const DOCKER_HUB_LEGACY_KEY = 'https://index.docker.io/v1/';
/** Names of Docker Hub that share credentials (docs/auth.md). */
const DOCKER_HUB_ALIASES = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
/** A credential helper's username meaning "the secret is an identity token" (docker-credential-helpers). */
export const IDENTITY_TOKEN_USERNAME = '<token>';

/** One `auths` entry. */
export interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  username?: string;
  password?: string;
}

/** The parts of an auth file oci2fs uses. */
export interface AuthFile {
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore?: string;
}

/** `docker.io` for any Docker Hub alias, else the host unchanged. */
export function canonicalHost(host: string): string {
  return DOCKER_HUB_ALIASES.includes(host) ? 'docker.io' : host;
}

/**
 * The normalised form of an `auths` key: legacy keys with a scheme
 * (`https://index.docker.io/v1/`, `http://host/`) keep only their host;
 * other keys are `host[/namespace...]` as written. The host part is canonical.
 */
export function normalizeAuthKey(key: string): string {
  let k = key;
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(k);
  if (scheme) {
    k = k.slice(scheme[0].length);
    const slash = k.indexOf('/');
    if (slash >= 0) k = k.slice(0, slash);
  }
  while (k.endsWith('/')) k = k.slice(0, -1);
  const slash = k.indexOf('/');
  const host = slash >= 0 ? k.slice(0, slash) : k;
  return canonicalHost(host) + (slash >= 0 ? k.slice(slash) : '');
}

/** Keys to look up for host/repository, most specific first: host/a/b, host/a, host. */
export function lookupKeys(host: string, repository?: string): string[] {
  const h = canonicalHost(host);
  const keys: string[] = [];
  if (repository) {
    const parts = repository.split('/');
    for (let n = parts.length; n >= 1; n--) keys.push(`${h}/${parts.slice(0, n).join('/')}`);
  }
  keys.push(h);
  return keys;
}

function fail(file: string, what: string): never {
  throw new Oci2fsError(ErrorCode.AUTH, `auth file ${file} is not valid: ${what}; fix or remove it`);
}

function stringRecord(file: string, v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(file, `"${field}" is not an object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') fail(file, `"${field}" entry "${k}" is not a string`);
    out[k] = val;
  }
  return out;
}

/**
 * Parse an auth file's text. Errors name the file and the field, never the
 * content (it holds secrets).
 */
export function parseAuthFile(file: string, text: string): AuthFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    fail(file, 'it is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(file, 'it is not a JSON object');
  const d = doc as Record<string, unknown>;
  const auths: Record<string, AuthEntry> = {};
  if (d.auths !== undefined && d.auths !== null) {
    if (typeof d.auths !== 'object' || Array.isArray(d.auths)) fail(file, '"auths" is not an object');
    for (const [key, entry] of Object.entries(d.auths as Record<string, unknown>)) {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail(file, `"auths" entry "${key}" is not an object`);
      const e = entry as Record<string, unknown>;
      const out: AuthEntry = {};
      for (const f of ['auth', 'identitytoken', 'username', 'password'] as const) {
        if (e[f] === undefined || e[f] === null) continue;
        if (typeof e[f] !== 'string') fail(file, `"auths" entry "${key}" field "${f}" is not a string`);
        out[f] = e[f] as string;
      }
      const norm = normalizeAuthKey(key);
      // a key written exactly wins over a legacy key normalising to the same name
      if (!(norm in auths) || normalizeAuthKey(key) === key) auths[norm] = out;
    }
  }
  const credHelpers: Record<string, string> = {};
  for (const [k, v] of Object.entries(stringRecord(file, d.credHelpers, 'credHelpers'))) credHelpers[normalizeAuthKey(k)] = v;
  let credsStore: string | undefined;
  if (d.credsStore !== undefined && d.credsStore !== null && d.credsStore !== '') {
    if (typeof d.credsStore !== 'string') fail(file, '"credsStore" is not a string');
    credsStore = d.credsStore;
  }
  return { auths, credHelpers, credsStore };
}

/**
 * The credential stored inline in an `auths` entry: `identitytoken`, or base64
 * `auth` = `user:password` (the first `:` separates), or username/password fields.
 * Undefined when the entry holds none (e.g. `{}` placeholders next to a credsStore).
 */
export function entryCredential(file: string, key: string, entry: AuthEntry): Credential | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) fail(file, `"auths" entry "${key}" has an "auth" field that is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

/** The most specific `auths` entry for host/repository, with its key. */
export function findAuthEntry(file: AuthFile, host: string, repository?: string): { key: string; entry: AuthEntry } | undefined {
  for (const key of lookupKeys(host, repository)) {
    const entry = file.auths[key];
    if (entry) return { key, entry };
  }
  return undefined;
}

/** The server URL passed to a credential helper for `host`. */
export function helperServerUrl(host: string): string {
  return canonicalHost(host) === 'docker.io' ? DOCKER_HUB_LEGACY_KEY : host;
}
