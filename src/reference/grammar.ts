/**
 * The Docker / OCI distribution reference grammar (distribution/reference
 * `regexp.go`, OCI distribution-spec "pulling manifests"), as named constants.
 * Pure: no I/O.
 */

/** Docker Hub's canonical registry name (distribution/reference normalize.go `defaultDomain`). */
export const DOCKER_HUB = 'docker.io';
/** Legacy Docker Hub name, rewritten to DOCKER_HUB (normalize.go `legacyDefaultDomain`). */
export const DOCKER_HUB_LEGACY = 'index.docker.io';
/** The host that actually serves Docker Hub's v2 API. */
export const DOCKER_HUB_API = 'registry-1.docker.io';
/** Namespace prepended to single-component Docker Hub names (normalize.go `officialRepoPrefix`). */
export const DOCKER_HUB_OFFICIAL_NAMESPACE = 'library';
/** Tag used when a Docker reference has neither tag nor digest (normalize.go `defaultTag`). */
export const DEFAULT_TAG = 'latest';
/** Maximum length of a full name `registry/repository` (reference.go `NameTotalLengthMax`). */
export const NAME_TOTAL_LENGTH_MAX = 255;

/** One DNS label of a registry host (regexp.go `domainNameComponent`). */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
/** IPv6 literal in brackets (regexp.go `ipv6address`). */
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
/** Registry host with optional port (regexp.go `domainAndPort`). */
export const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?$`);
/** One repository path component (regexp.go `pathComponent`: alnum runs joined by `.`, `_`, `__` or dashes). */
export const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
/** A tag (regexp.go `tag`). */
export const TAG_RE = /^[\w][\w.-]{0,127}$/;
/** Supported digest algorithms and their hex lengths (OCI image-spec descriptor.md "Registered algorithms"). */
export const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };
/** Lowercase hex, as the OCI image spec requires for registered algorithms. */
const LOWER_HEX_RE = /^[a-f0-9]+$/;
/** A bare 64-hex string: rejected as a repository name (normalize.go `anchoredIdentifierRegexp`). */
export const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

/** Why `digest` is invalid, or undefined when it is a valid sha256/sha512 digest. */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon < 0) return `digest "${digest}" has no "algorithm:" prefix (expected sha256:<64 hex>)`;
  const algo = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const want = DIGEST_HEX_LENGTH[algo];
  if (want === undefined) return `digest algorithm "${algo}" is not supported (use sha256 or sha512)`;
  if (!LOWER_HEX_RE.test(hex)) return `digest "${digest}" must be lowercase hexadecimal after "${algo}:"`;
  if (hex.length !== want) return `digest "${digest}" has ${hex.length} hex digits, ${algo} needs ${want}`;
  return undefined;
}

/** Why `tag` is invalid, or undefined. */
export function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'the tag after ":" is empty';
  if (!TAG_RE.test(tag)) {
    return `tag "${tag}" is invalid (1-128 characters of [A-Za-z0-9_.-], not starting with "." or "-")`;
  }
  return undefined;
}

/** Why the registry host is invalid, or undefined. */
export function domainProblem(domain: string): string | undefined {
  if (!DOMAIN_RE.test(domain)) return `registry "${domain}" is not a valid host[:port]`;
  return undefined;
}

/** Why the repository path is invalid, or undefined. */
export function repositoryProblem(repository: string): string | undefined {
  if (repository === '') return 'the repository name is empty';
  for (const part of repository.split('/')) {
    if (part === '') return `repository "${repository}" has an empty path component (doubled or trailing "/")`;
    if (part === '.' || part === '..') return `repository "${repository}" contains a "${part}" path component`;
    if (!PATH_COMPONENT_RE.test(part)) {
      if (part.toLowerCase() !== part && PATH_COMPONENT_RE.test(part.toLowerCase())) {
        return `repository "${repository}" must be lowercase`;
      }
      return `repository path component "${part}" is invalid (lowercase letters and digits, separated by ".", "_", "__" or "-")`;
    }
  }
  return undefined;
}
