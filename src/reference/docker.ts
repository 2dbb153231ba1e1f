/**
 * Plain Docker references (`[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`), parsed and
 * normalised the way distribution/reference `ParseNormalizedNamed` does.
 * Pure: no I/O.
 */
import { ErrorCode, Oci2fsError } from '../errors.js';
import type { DockerReference } from './types.js';
import {
  DEFAULT_TAG,
  DOCKER_HUB,
  DOCKER_HUB_API,
  DOCKER_HUB_LEGACY,
  DOCKER_HUB_OFFICIAL_NAMESPACE,
  IDENTIFIER_RE,
  NAME_TOTAL_LENGTH_MAX,
  digestProblem,
  domainProblem,
  repositoryProblem,
  tagProblem,
} from './grammar.js';

/** Throw the one error kind of this module, naming the whole input. */
export function invalidReference(input: string, problem: string): never {
  throw new Oci2fsError(ErrorCode.REFERENCE_INVALID, `invalid image reference "${input}": ${problem}`);
}

/**
 * Reject control characters always, and whitespace unless `allowSpaces`
 * (local paths may contain spaces; registry references never do).
 */
export function checkCharacters(input: string, text: string, allowSpaces = false): void {
  if (text === '') invalidReference(input, 'it is empty');
  // eslint-disable-next-line no-control-regex
  const bad = (allowSpaces ? /[\x00-\x1f\x7f]/ : /[\s\x00-\x1f\x7f]/).exec(text);
  if (bad) {
    const what = bad[0] === ' ' ? 'a space' : `the character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`;
    invalidReference(input, `it contains ${what}`);
  }
}

/**
 * True when the first `/`-separated part of a name is a registry host rather
 * than a Docker Hub namespace: it contains `.` or `:`, is `localhost`, or has
 * uppercase letters (distribution/reference normalize.go `splitDockerDomain`).
 */
export function looksLikeRegistry(firstPart: string): boolean {
  return (
    firstPart.includes('.') ||
    firstPart.includes(':') ||
    firstPart === 'localhost' ||
    firstPart.toLowerCase() !== firstPart
  );
}

/** Map Docker Hub aliases to `docker.io`; other hosts unchanged. */
export function normalizeRegistry(registry: string): string {
  if (registry === DOCKER_HUB_LEGACY || registry === DOCKER_HUB_API) return DOCKER_HUB;
  return registry;
}

/** The repository with Docker Hub's `library/` namespace added where Docker adds it. */
export function normalizeRepository(registry: string, repository: string): string {
  if (registry === DOCKER_HUB && !repository.includes('/')) return `${DOCKER_HUB_OFFICIAL_NAMESPACE}/${repository}`;
  return repository;
}

/** Split `NAME[:TAG][@DIGEST]` into its parts (no validation). */
export function splitTagDigest(text: string): { name: string; tag?: string; digest?: string } {
  let name = text;
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  return { name, tag, digest };
}

/**
 * Validate registry, repository, tag and digest and build the normalised
 * reference. `input` is only used in error messages.
 */
export function buildDockerReference(
  input: string,
  registry: string,
  repository: string,
  tag: string | undefined,
  digest: string | undefined,
  user: string | undefined,
): DockerReference {
  const domainErr = domainProblem(registry);
  if (domainErr) invalidReference(input, domainErr);
  const reg = normalizeRegistry(registry);
  const repoErr = repositoryProblem(repository);
  if (repoErr) invalidReference(input, repoErr);
  const repo = normalizeRepository(reg, repository);
  if (tag !== undefined) {
    const tagErr = tagProblem(tag);
    if (tagErr) invalidReference(input, tagErr);
  }
  if (digest !== undefined) {
    if (digest === '') invalidReference(input, 'the digest after "@" is empty');
    const digestErr = digestProblem(digest);
    if (digestErr) invalidReference(input, digestErr);
  }
  const full = `${reg}/${repo}`;
  if (full.length > NAME_TOTAL_LENGTH_MAX) {
    invalidReference(input, `the name "${full}" is ${full.length} characters long, the limit is ${NAME_TOTAL_LENGTH_MAX}`);
  }
  const ref: DockerReference = { transport: 'docker', registry: reg, repository: repo };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined) ref.tag = DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  if (user !== undefined) ref.user = user;
  return ref;
}

/**
 * Parse a plain Docker reference such as `alpine`, `ghcr.io/o/i:t` or
 * `localhost:5000/x@sha256:…`. `input` is the whole user input for messages.
 */
export function parseDockerName(input: string, text: string, user?: string): DockerReference {
  checkCharacters(input, text);
  if (text.includes('#')) {
    invalidReference(input, 'a "#" is only allowed in enroot form docker://[USER@]REGISTRY#IMAGE[:TAG]');
  }
  const { name, tag, digest } = splitTagDigest(text);
  if (name === '') invalidReference(input, 'the image name is empty');
  const slash = name.indexOf('/');
  let registry = DOCKER_HUB;
  let repository = name;
  if (slash >= 0 && looksLikeRegistry(name.slice(0, slash))) {
    registry = name.slice(0, slash);
    repository = name.slice(slash + 1);
  } else if (IDENTIFIER_RE.test(name)) {
    invalidReference(input, 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  return buildDockerReference(input, registry, repository, tag, digest, user);
}
