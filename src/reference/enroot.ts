/**
 * enroot's image URI syntax `docker://[USER@][REGISTRY#]IMAGE[:TAG|@DIGEST]`
 * and the names enroot derives from it (NVIDIA/enroot src/docker.sh,
 * `docker::_parse_uri` and `docker::import`). Pure: no I/O.
 */
import { basename } from 'node:path';
import type { DockerReference, ImageReference } from './types.js';
import { DEFAULT_TAG, DOCKER_HUB, DOCKER_HUB_API, DOCKER_HUB_OFFICIAL_NAMESPACE } from './grammar.js';
import { buildDockerReference, checkCharacters, invalidReference, parseDockerName, splitTagDigest } from './docker.js';

/** The separator enroot puts between registry and image. */
export const ENROOT_REGISTRY_SEPARATOR = '#';
/** enroot replaces each `/` of the image path with this in default file names. */
export const ENROOT_NAME_SEPARATOR = '+';

/** The host that serves the registry API: `docker.io` (and its aliases) → `registry-1.docker.io`, else unchanged. */
export function registryApiHost(registry: string): string {
  if (registry === DOCKER_HUB || registry === 'index.docker.io') return DOCKER_HUB_API;
  return registry;
}

function checkUser(input: string, user: string): string {
  if (user === '') invalidReference(input, 'the user name before "@" is empty');
  if (user.includes(':')) {
    // USER:PASSWORD@ would put a secret into every message that names the reference
    invalidReference(
      input.split(user).join('<redacted>'),
      'a password must not be part of the reference; give it with --creds USER:PASSWORD or a credentials file',
    );
  }
  if (user.includes('/')) invalidReference(input, `the user name "${user}" must not contain "/"`);
  return user;
}

/** The shape of any digest (distribution/reference regexp.go `digestPat`), to tell `@DIGEST` from `USER@`. */
const DIGEST_SHAPE_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** True when `text` (the part after an `@`) has the shape of a digest rather than of an image name. */
function looksLikeDigest(text: string): boolean {
  return DIGEST_SHAPE_RE.test(text);
}

/**
 * Parse what follows `docker://`. With a `#` it is enroot's form: the part
 * before `#` is the registry (after an optional `USER@`). Without `#` it is a
 * plain Docker reference (skopeo's form and enroot's newer form agree),
 * optionally prefixed by enroot's `USER@`.
 */
export function parseDockerUri(input: string, body: string): DockerReference {
  checkCharacters(input, body);
  const hash = body.indexOf(ENROOT_REGISTRY_SEPARATOR);
  if (hash >= 0) {
    if (body.indexOf(ENROOT_REGISTRY_SEPARATOR, hash + 1) >= 0) invalidReference(input, 'it contains more than one "#"');
    let registry = body.slice(0, hash);
    let user: string | undefined;
    const at = registry.lastIndexOf('@');
    if (at >= 0) {
      user = checkUser(input, registry.slice(0, at));
      registry = registry.slice(at + 1);
    }
    if (registry === '') invalidReference(input, 'the registry before "#" is empty');
    const { name, tag, digest } = splitTagDigest(body.slice(hash + 1));
    if (name === '') invalidReference(input, 'the image name after "#" is empty');
    return buildDockerReference(input, registry, name, tag, digest, user);
  }
  let rest = body;
  let digestPart = '';
  const lastAt = rest.lastIndexOf('@');
  if (lastAt >= 0 && looksLikeDigest(rest.slice(lastAt + 1))) {
    digestPart = rest.slice(lastAt);
    rest = rest.slice(0, lastAt);
  }
  let user: string | undefined;
  const userAt = rest.lastIndexOf('@');
  if (userAt >= 0) {
    user = checkUser(input, rest.slice(0, userAt));
    rest = rest.slice(userAt + 1);
  }
  return parseDockerName(input, rest + digestPart, user);
}

/**
 * enroot's URI for a reference, in the `#` form enroot parses unambiguously:
 * `docker://registry-1.docker.io#library/busybox:latest`. Never includes the
 * user. Non-registry references have no enroot form; their canonical
 * oci2fs form is returned instead (see docs/references.md).
 */
export function enrootUriOf(ref: ImageReference, canonical: (r: ImageReference) => string): string {
  if (ref.transport !== 'docker') return canonical(ref);
  let uri = `docker://${registryApiHost(ref.registry)}${ENROOT_REGISTRY_SEPARATOR}${ref.repository}`;
  if (ref.tag !== undefined) uri += `:${ref.tag}`;
  if (ref.digest !== undefined) uri += `@${ref.digest}`;
  return uri;
}

/** File extensions stripped from archive names when deriving an output name. */
const ARCHIVE_EXTENSIONS = ['.tar.gz', '.tgz', '.tar.zst', '.tar', '.oci', '.sqsh', '.dump'];

/**
 * enroot import's default output name, without `.sqsh`: the image path with
 * `/` → `+` (Docker Hub's `library/` dropped), then `+TAG`, where a digest
 * replaces the tag: `nvcr.io#nvidia/pytorch:25.06-py3` → `nvidia+pytorch+25.06-py3`,
 * `alpine` → `alpine+latest`, `alpine@sha256:ab…` → `alpine+sha256:ab…`.
 * The registry is never part of the name. For local transports (no enroot
 * equivalent) it is the file or directory name without archive extension,
 * then `+REF` when a ref is given.
 */
export function enrootFileName(ref: ImageReference): string {
  if (ref.transport === 'docker') {
    let image = ref.repository;
    const official = `${DOCKER_HUB_OFFICIAL_NAMESPACE}/`;
    if (registryApiHost(ref.registry) === DOCKER_HUB_API && image.startsWith(official)) image = image.slice(official.length);
    const version = ref.digest ?? ref.tag ?? DEFAULT_TAG;
    return `${image.split('/').join(ENROOT_NAME_SEPARATOR)}${ENROOT_NAME_SEPARATOR}${version}`;
  }
  let name = basename(ref.path);
  for (const ext of ARCHIVE_EXTENSIONS) {
    if (name.length > ext.length && name.toLowerCase().endsWith(ext)) {
      name = name.slice(0, -ext.length);
      break;
    }
  }
  if ('ref' in ref && ref.ref !== undefined) name += ENROOT_NAME_SEPARATOR + ref.ref.split('/').join(ENROOT_NAME_SEPARATOR);
  return name;
}
