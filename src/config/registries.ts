/**
 * containers-registries.conf(5) semantics: choosing the `[[registry]]` table
 * for an image name (longest prefix, `*.domain` wildcards), relocating it
 * (`location`), listing mirrors, insecure and blocked flags. Pure: the loader
 * (load.ts) reads the file.
 */
import { ErrorCode, Oci2fsError } from '../errors.js';
import { normalizeRegistry } from '../reference/index.js';

/** When a mirror may be used (registries.conf `pull-from-mirror`). */
export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

export interface MirrorEntry {
  location: string;
  insecure: boolean;
  pullFromMirror: PullFromMirror;
}

/** One `[[registry]]` table, validated. */
export interface RegistryEntry {
  /** `host[:port][/namespace...]` or `*.domain`. */
  prefix: string;
  /** Where the prefix really lives; undefined means "the prefix itself". */
  location?: string;
  insecure: boolean;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: MirrorEntry[];
}

/** One place to fetch an image from. */
export interface Endpoint {
  /** Registry host[:port] as configured (Docker Hub as `docker.io`: map with registryApiHost before connecting). */
  host: string;
  /** Repository path on that host. */
  repository: string;
  /** Plain HTTP / unverified TLS allowed. */
  insecure: boolean;
  /** True for a mirror, false for the origin (possibly relocated by `location`). */
  mirror: boolean;
}

export interface EndpointOptions {
  /** The pull is by digest (default false: by tag). Decides which mirrors apply (`pull-from-mirror`, `mirror-by-digest-only`). */
  byDigest?: boolean;
}

export interface RegistriesConfig {
  /** The endpoints to try for host[:port]/repository, in order: mirrors first, then the origin (possibly relocated by `location`). */
  endpoints(registry: string, repository: string, opts?: EndpointOptions): Endpoint[];
  /** True when the registry host may be reached over plain HTTP / unverified TLS. */
  isInsecure(registry: string): boolean;
  /** True when pulling registry/repository is forbidden. */
  isBlocked(registry: string, repository: string): boolean;
}

/** Extra inputs besides the `[[registry]]` tables. */
export interface RegistriesSettings {
  entries: RegistryEntry[];
  /** Hosts from --insecure-registry and the v1 `[registries.insecure]` list. */
  insecureRegistries?: string[];
  /** Hosts from the v1 `[registries.block]` list. */
  blockedRegistries?: string[];
  /** Names the configuration in error messages. */
  source?: string;
}

/**
 * How many characters of `name` the prefix matches, or -1. A plain prefix
 * must be followed by `/` or the end of the name; `*.domain` matches a
 * subdomain host of `domain` (with any port), never `domain` itself
 * (containers/image sysregistriesv2 `refMatchingPrefix`).
 */
export function prefixMatchLength(name: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    const suffix = prefix.slice(1); // ".domain"
    const slash = name.indexOf('/');
    const host = slash >= 0 ? name.slice(0, slash) : name;
    const colon = host.lastIndexOf(':');
    const bare = colon >= 0 && !host.endsWith(']') ? host.slice(0, colon) : host;
    return bare.endsWith(suffix) && bare.length > suffix.length ? bare.length : -1;
  }
  if (name === prefix) return prefix.length;
  if (name.startsWith(prefix) && name[prefix.length] === '/') return prefix.length;
  return -1;
}

/** `host[/path]` → host and path (path without leading `/`). */
function splitLocation(location: string): { host: string; path: string } {
  const slash = location.indexOf('/');
  if (slash < 0) return { host: location, path: '' };
  return { host: location.slice(0, slash), path: location.slice(slash + 1) };
}

/** Build the RegistriesConfig for validated entries. */
export function createRegistriesConfig(settings: RegistriesSettings): RegistriesConfig {
  const entries = settings.entries;
  const insecure = new Set(settings.insecureRegistries ?? []);
  const blocked = new Set(settings.blockedRegistries ?? []);
  const source = settings.source ?? 'registries configuration';

  // The table with the longest prefix *string* wins, ties going to the first
  // (containers/image sysregistriesv2 findRegistryWithParsedConfig); the
  // matched length in the name is what a location or mirror replaces.
  const best = (name: string): { entry: RegistryEntry; matched: number } | undefined => {
    let found: { entry: RegistryEntry; matched: number } | undefined;
    for (const entry of entries) {
      const n = prefixMatchLength(name, entry.prefix);
      if (n >= 0 && entry.prefix.length > (found?.entry.prefix.length ?? -1)) found = { entry, matched: n };
    }
    return found;
  };

  const rewrite = (name: string, location: string, matched: number, what: string): { host: string; repository: string } => {
    const target = location + name.slice(matched);
    const { host, path } = splitLocation(target);
    if (path === '') {
      throw new Oci2fsError(ErrorCode.USAGE, `${source}: ${what} "${location}" leaves no repository for image ${name}; give the location a repository path`);
    }
    const h = normalizeRegistry(host);
    const repository = h === 'docker.io' && !path.includes('/') ? `library/${path}` : path;
    return { host: h, repository };
  };

  const hostInsecure = (host: string): boolean => insecure.has(host) || (best(host)?.entry.insecure ?? false);

  return {
    endpoints(registry, repository, opts = {}) {
      const name = `${registry}/${repository}`;
      const m = best(name);
      if (!m) return [{ host: registry, repository, insecure: hostInsecure(registry), mirror: false }];
      const { entry, matched } = m;
      const wildcard = entry.prefix.startsWith('*.');
      const out: Endpoint[] = [];
      const byDigest = opts.byDigest === true;
      for (const mirror of entry.mirrors) {
        if (entry.mirrorByDigestOnly && !byDigest) continue;
        if (mirror.pullFromMirror === 'digest-only' && !byDigest) continue;
        if (mirror.pullFromMirror === 'tag-only' && byDigest) continue;
        const r = rewrite(name, mirror.location, matched, 'mirror location');
        out.push({ ...r, insecure: mirror.insecure || insecure.has(r.host), mirror: true });
      }
      const origin =
        wildcard || entry.location === undefined
          ? { host: registry, repository }
          : rewrite(name, entry.location, matched, 'location');
      out.push({ ...origin, insecure: entry.insecure || insecure.has(origin.host), mirror: false });
      return out;
    },
    isInsecure: hostInsecure,
    isBlocked(registry, repository) {
      if (blocked.has(registry)) return true;
      return best(`${registry}/${repository}`)?.entry.blocked ?? false;
    },
  };
}
