/**
 * Splitting `TRANSPORT:PATH[:REF]` for the local transports. Pure: only
 * path.resolve (which reads the working directory) is used.
 */
import { resolve } from 'node:path';
import type { LayoutReference, PathReference } from './types.js';
import { checkCharacters, invalidReference, parseDockerName } from './docker.js';

/**
 * An OCI image ref name (`org.opencontainers.image.ref.name`): alphanumeric
 * runs joined by `-._:@+` or `--`, in `/`-separated components
 * (containers/image oci/internal/oci_util.go `refRegexp`).
 */
export const OCI_REF_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;
/** docker-archive's `@N`: the N-th image of a multi-image archive (containers/image docker/archive). */
export const ARCHIVE_INDEX_RE = /^@[0-9]+$/;

function absolutePath(input: string, path: string): string {
  if (path === '') invalidReference(input, 'the path is empty');
  return resolve(path);
}

/**
 * `oci:DIR[:REF]` and `oci-archive:FILE[:REF]`: the LAST `:` separates the
 * ref, and only when what follows is a valid OCI ref without `/`; otherwise
 * the whole text is the path (so paths may contain `:`). A trailing `:`
 * means "no ref" explicitly (used by formatReference for such paths).
 */
export function parseLayout(input: string, transport: 'oci' | 'oci-archive', body: string): LayoutReference {
  if (body === '') invalidReference(input, 'the path is empty');
  checkCharacters(input, body, true);
  if (body.endsWith(':')) return { transport, path: absolutePath(input, body.slice(0, -1)) };
  const colon = body.lastIndexOf(':');
  if (colon >= 0) {
    const ref = body.slice(colon + 1);
    if (OCI_REF_RE.test(ref) && !ref.includes('/')) {
      return { transport, path: absolutePath(input, body.slice(0, colon)), ref };
    }
  }
  return { transport, path: absolutePath(input, body) };
}

function isDockerArchiveRef(text: string): boolean {
  if (ARCHIVE_INDEX_RE.test(text)) return true;
  if (text.includes('@')) return false; // docker-archive references carry no digest
  try {
    parseDockerName(text, text);
    return true;
  } catch {
    return false;
  }
}

/**
 * `docker-archive:FILE[:REF]`: as in containers/image, the FIRST `:` that is
 * followed by a valid reference (a Docker reference without digest, or `@N`)
 * separates it; the ref is kept as written. A trailing `:` means "no ref".
 */
export function parseDockerArchive(input: string, body: string): LayoutReference {
  if (body === '') invalidReference(input, 'the path is empty');
  checkCharacters(input, body, true);
  const transport = 'docker-archive';
  if (body.endsWith(':')) return { transport, path: absolutePath(input, body.slice(0, -1)) };
  for (let colon = body.indexOf(':'); colon >= 0; colon = body.indexOf(':', colon + 1)) {
    const ref = body.slice(colon + 1);
    if (isDockerArchiveRef(ref)) return { transport, path: absolutePath(input, body.slice(0, colon)), ref };
  }
  return { transport, path: absolutePath(input, body) };
}

/** `dir:PATH` and `dumpfile:PATH`: everything after the transport is the path. */
export function parsePath(input: string, transport: 'dir' | 'dumpfile', body: string): PathReference {
  if (body === '') invalidReference(input, 'the path is empty');
  checkCharacters(input, body, true);
  return { transport, path: absolutePath(input, body) };
}
