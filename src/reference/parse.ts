/**
 * parseReference / formatReference: every reference form oci2fs accepts, and
 * its one canonical spelling. See docs/references.md. Pure: no I/O.
 */
import type { ImageReference, Transport } from './types.js';
import { TRANSPORTS } from './types.js';
import { checkCharacters, invalidReference, parseDockerName } from './docker.js';
import { enrootUriOf, parseDockerUri } from './enroot.js';
import { parseDockerArchive, parseLayout, parsePath } from './transports.js';

/** Transports of skopeo/containers-image that oci2fs does not read. */
const UNSUPPORTED_TRANSPORTS = ['docker-daemon', 'containers-storage', 'ostree', 'sif', 'tarball', 'dockerd', 'podman'];
const DOCKER_URI_PREFIX = 'docker://';

function isTransport(name: string): name is Transport {
  return (TRANSPORTS as readonly string[]).includes(name);
}

/**
 * Parse an image reference. Accepted forms:
 * - a plain Docker reference (`alpine`, `ghcr.io/o/i:t`, `localhost:5000/x@sha256:…`);
 * - `docker://REF` (skopeo) and `docker://[USER@][REGISTRY#]IMAGE[:TAG|@DIGEST]` (enroot);
 * - `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`, `dir:PATH`, `dumpfile:PATH`.
 * Paths are made absolute with path.resolve.
 * @throws Oci2fsError E_REFERENCE_INVALID naming the input and what is wrong.
 */
export function parseReference(input: string): ImageReference {
  if (typeof input !== 'string' || input === '') invalidReference(String(input ?? ''), 'it is empty');
  checkCharacters(input, input, true); // spaces are checked per form: allowed only in local paths
  const colon = input.indexOf(':');
  if (colon > 0) {
    const prefix = input.slice(0, colon);
    const body = input.slice(colon + 1);
    if (isTransport(prefix)) {
      switch (prefix) {
        case 'docker':
          if (!input.startsWith(DOCKER_URI_PREFIX)) {
            invalidReference(input, 'the docker transport is written docker://REFERENCE');
          }
          return parseDockerUri(input, input.slice(DOCKER_URI_PREFIX.length));
        case 'oci':
        case 'oci-archive':
          return parseLayout(input, prefix, body);
        case 'docker-archive':
          return parseDockerArchive(input, body);
        case 'dir':
        case 'dumpfile':
          return parsePath(input, prefix, body);
      }
    }
    if (UNSUPPORTED_TRANSPORTS.includes(prefix)) {
      invalidReference(input, `transport "${prefix}:" is not supported (use docker://, oci:, oci-archive:, docker-archive:, dir: or dumpfile:)`);
    }
    if (body.startsWith('//')) {
      invalidReference(input, `"${prefix}://" is not a known transport (use docker://, oci:, oci-archive:, docker-archive:, dir: or dumpfile:)`);
    }
  }
  return parseDockerName(input, input);
}

/**
 * The canonical spelling of a reference: `docker://docker.io/library/alpine:latest`,
 * `docker://ghcr.io/o/i:t@sha256:…`, `oci:/abs/dir:ref`, `dir:/abs`, …
 * Never includes the enroot user. parseReference(formatReference(r)) gives r back
 * (minus `user`); a trailing `:` marks "no ref" for a path that would otherwise
 * be split at its last `:`.
 */
export function formatReference(ref: ImageReference): string {
  switch (ref.transport) {
    case 'docker': {
      let s = `${DOCKER_URI_PREFIX}${ref.registry}/${ref.repository}`;
      if (ref.tag !== undefined) s += `:${ref.tag}`;
      if (ref.digest !== undefined) s += `@${ref.digest}`;
      return s;
    }
    case 'oci':
    case 'oci-archive':
    case 'docker-archive': {
      const base = `${ref.transport}:${ref.path}`;
      if (ref.ref !== undefined) return `${base}:${ref.ref}`;
      const reparsed = parseReference(base);
      return 'ref' in reparsed && reparsed.ref !== undefined ? `${base}:` : base;
    }
    case 'dir':
    case 'dumpfile':
      return `${ref.transport}:${ref.path}`;
  }
}

/**
 * enroot's form of a registry reference, as oci2fs records it in the image:
 * `docker://registry-1.docker.io#library/busybox:latest` (no user). For local
 * transports, which enroot cannot name, the canonical oci2fs form.
 */
export function enrootUri(ref: ImageReference): string {
  return enrootUriOf(ref, formatReference);
}

/** True when `input` parses; never throws. */
export function isValidReference(input: string): boolean {
  try {
    parseReference(input);
    return true;
  } catch {
    return false;
  }
}


