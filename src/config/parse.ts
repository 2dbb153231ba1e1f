/**
 * registries.conf TOML → validated entries (containers-registries.conf(5),
 * version 2 `[[registry]]` tables and the deprecated version 1 lists). Pure.
 */
import { parse as parseToml } from 'smol-toml';
import { ErrorCode, Oci2fsError } from '../errors.js';
import { DOMAIN_RE_SOURCE } from './names.js';
import type { MirrorEntry, PullFromMirror, RegistryEntry } from './registries.js';

/** What one registries.conf file contributes. */
export interface ParsedRegistriesConf {
  entries: RegistryEntry[];
  insecureRegistries: string[];
  blockedRegistries: string[];
}

const PULL_FROM_MIRROR: readonly PullFromMirror[] = ['all', 'digest-only', 'tag-only'];
/** `*.domain` wildcard prefix: only a domain, no path or port. */
const WILDCARD_RE = new RegExp(`^\\*\\.${DOMAIN_RE_SOURCE}$`);

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function fail(file: string, what: string): never {
  throw new Oci2fsError(ErrorCode.USAGE, `registries configuration ${file}: ${what}`);
}

function str(file: string, where: string, t: Table, key: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(file, `${where}: "${key}" must be a string`);
  return v;
}

function bool(file: string, where: string, t: Table, key: string): boolean {
  const v = t[key];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') fail(file, `${where}: "${key}" must be true or false`);
  return v;
}

function strList(file: string, where: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(file, `${where} must be a list of strings`);
  return v as string[];
}

/** Strip a trailing `/` and check `host[:port][/path]` shape (the host must be a valid registry host). */
function location(file: string, where: string, text: string): string {
  let s = text.trim();
  while (s.endsWith('/')) s = s.slice(0, -1);
  if (s === '') fail(file, `${where} is empty`);
  if (/^[a-z]+:\/\//i.test(s)) fail(file, `${where} "${text}" must not have a URL scheme; write host[:port][/path]`);
  const host = s.split('/')[0];
  if (!new RegExp(`^${DOMAIN_RE_SOURCE}(?::[0-9]+)?$`).test(host)) fail(file, `${where} "${text}" does not start with a valid host[:port]`);
  if (/\s/.test(s)) fail(file, `${where} "${text}" contains whitespace`);
  return s;
}

function parseMirror(file: string, where: string, t: unknown): MirrorEntry {
  if (!isTable(t)) fail(file, `${where} must be a table`);
  const loc = str(file, where, t, 'location');
  if (loc === undefined) fail(file, `${where} has no "location"`);
  const pfm = str(file, where, t, 'pull-from-mirror') ?? 'all';
  const pullFromMirror = (pfm === '' ? 'all' : pfm) as PullFromMirror;
  if (!PULL_FROM_MIRROR.includes(pullFromMirror)) fail(file, `${where}: "pull-from-mirror" must be all, digest-only or tag-only, not "${pfm}"`);
  return { location: location(file, `${where} location`, loc), insecure: bool(file, where, t, 'insecure'), pullFromMirror };
}

/** Parse one registries.conf file's text. `file` names it in errors. */
export function parseRegistriesConf(file: string, text: string): ParsedRegistriesConf {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    fail(file, `not valid TOML (${msg})`);
  }
  const out: ParsedRegistriesConf = { entries: [], insecureRegistries: [], blockedRegistries: [] };
  const v1 = doc.registries;
  const v2 = doc.registry;
  if (v1 !== undefined && v2 !== undefined) fail(file, 'mixes the version 1 [registries.*] lists with version 2 [[registry]] tables');
  if (v1 !== undefined) {
    if (!isTable(v1)) fail(file, '[registries] must be a table');
    for (const [k, list] of [['insecure', out.insecureRegistries], ['block', out.blockedRegistries]] as const) {
      const t = v1[k];
      if (t === undefined) continue;
      if (!isTable(t)) fail(file, `[registries.${k}] must be a table`);
      list.push(...strList(file, `[registries.${k}] registries`, t.registries));
    }
  }
  if (v2 !== undefined) {
    if (!Array.isArray(v2)) fail(file, 'registry must be an array of tables ([[registry]])');
    const seen = new Set<string>();
    v2.forEach((t: unknown, i: number) => {
      const where = `[[registry]] #${i + 1}`;
      if (!isTable(t)) fail(file, `${where} must be a table`);
      const rawPrefix = str(file, where, t, 'prefix');
      const rawLocation = str(file, where, t, 'location');
      const loc = rawLocation === undefined || rawLocation === '' ? undefined : location(file, `${where} location`, rawLocation);
      let prefix: string;
      if (rawPrefix === undefined || rawPrefix === '') {
        if (loc === undefined) fail(file, `${where} has neither "prefix" nor "location"`);
        prefix = loc;
      } else if (rawPrefix.startsWith('*')) {
        if (!WILDCARD_RE.test(rawPrefix)) fail(file, `${where}: wildcard prefix "${rawPrefix}" must have the form *.domain`);
        if (loc !== undefined) fail(file, `${where}: a wildcard prefix cannot have a "location"`);
        prefix = rawPrefix;
      } else {
        prefix = location(file, `${where} prefix`, rawPrefix);
      }
      if (prefix.startsWith('index.docker.io')) prefix = 'docker.io' + prefix.slice('index.docker.io'.length);
      if (seen.has(prefix)) fail(file, `${where}: prefix "${prefix}" is defined twice`);
      seen.add(prefix);
      const mirrorsRaw = t.mirror;
      if (mirrorsRaw !== undefined && !Array.isArray(mirrorsRaw)) fail(file, `${where}: mirror must be an array of tables ([[registry.mirror]])`);
      const mirrors = (mirrorsRaw ?? []).map((m: unknown, j: number) => parseMirror(file, `${where} mirror #${j + 1}`, m));
      const mirrorByDigestOnly = bool(file, where, t, 'mirror-by-digest-only');
      if (mirrorByDigestOnly && mirrors.some((m: MirrorEntry) => m.pullFromMirror !== 'all')) {
        fail(file, `${where}: "pull-from-mirror" cannot be combined with "mirror-by-digest-only"`);
      }
      out.entries.push({
        prefix,
        location: loc,
        insecure: bool(file, where, t, 'insecure'),
        blocked: bool(file, where, t, 'blocked'),
        mirrorByDigestOnly,
        mirrors,
      });
    });
  }
  return out;
}
