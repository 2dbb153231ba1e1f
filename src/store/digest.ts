/**
 * Digest strings as the store accepts them (image-spec descriptor.md,
 * "Digests"): `sha256:` + 64 lowercase hex characters. Validating the string
 * before it becomes a path keeps `../` and friends out of the store.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { DIGEST_ALGORITHM } from './layout.js';
import { sha256Digest } from '../image/digest.js';

/** image-spec descriptor.md: sha256 encoded portion is exactly 64 lowercase hex chars. */
const SHA256_RE = /^sha256:([a-f0-9]{64})$/;
/** image-spec descriptor.md: the general digest grammar (algorithm ":" encoded). */
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The hex part of a sha256 digest; throws for anything else. */
export function sha256Hex(digest: string): string {
  const m = SHA256_RE.exec(digest);
  if (m) return m[1];
  if (DIGEST_RE.test(digest)) {
    throw new Oci2fsError(
      ErrorCode.UNSUPPORTED,
      `Digest ${digest} uses an algorithm the store does not support; only ${DIGEST_ALGORITHM} is supported`,
    );
  }
  throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `Invalid digest "${digest}": expected sha256:<64 lowercase hex>`);
}

/** sha256 digest string of some bytes (the image model's one definition). */
export const digestOf = sha256Digest;

/** A size from a descriptor: a non-negative safe integer. */
export function checkSize(size: number, digest: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `Invalid size ${size} for blob ${digest}`);
  }
}
