/**
 * Content digests (OCI image-spec descriptor.md "Digests"): `algorithm:encoded`.
 * oci2fs verifies sha256 and sha512; other registered or unregistered
 * algorithms are rejected as unsupported.
 */
import { createHash } from 'node:crypto';
import { Oci2fsError, ErrorCode } from '../errors.js';

/** Algorithms we can verify, with the length of their lowercase hex encoding. */
export const DIGEST_HEX_LENGTH = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_HEX_LENGTH;

/** OCI descriptor.md digest grammar: algorithm-component ("+"|"."|"_"|"-" ...)* ":" encoded. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
}

/**
 * Parses and validates a digest string. Throws E_MANIFEST_INVALID for bad
 * syntax (or wrong hex length) and E_UNSUPPORTED for algorithms we cannot verify.
 * `what` names the input in error messages.
 */
export function parseDigest(digest: string, what = 'digest'): ParsedDigest {
  if (typeof digest !== 'string' || !DIGEST_GRAMMAR.test(digest)) {
    throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `Invalid ${what} ${JSON.stringify(digest)}: expected "algorithm:hex", e.g. "sha256:<64 hex digits>"`);
  }
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  if (!Object.prototype.hasOwnProperty.call(DIGEST_HEX_LENGTH, algorithm)) {
    throw new Oci2fsError(ErrorCode.UNSUPPORTED, `Unsupported digest algorithm "${algorithm}" in ${what} ${digest}: only sha256 and sha512 are supported`);
  }
  const len = DIGEST_HEX_LENGTH[algorithm as DigestAlgorithm];
  if (hex.length !== len || !/^[0-9a-f]+$/.test(hex)) {
    throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `Invalid ${what} ${JSON.stringify(digest)}: ${algorithm} needs ${len} lowercase hex digits`);
  }
  return { algorithm: algorithm as DigestAlgorithm, hex };
}

/** True when `digest` parses (no throw). */
export function isValidDigest(digest: string): boolean {
  try {
    parseDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

/** `sha256:<hex>` of a stream of chunks (a file, a member of an archive). */
export async function sha256DigestOfStream(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of chunks) h.update(c);
  return 'sha256:' + h.digest('hex');
}

/** The digest of `bytes` with the algorithm of `like` (sha256 or sha512). */
export function digestWithAlgorithmOf(like: string, bytes: Uint8Array): string {
  const { algorithm } = parseDigest(like);
  return `${algorithm}:` + createHash(algorithm).update(bytes).digest('hex');
}

/**
 * Throws E_DIGEST_MISMATCH when `bytes` do not hash to `expected`.
 * `what` names the content (e.g. "manifest registry/repo@sha256:...").
 */
export function verifyDigest(bytes: Uint8Array, expected: string, what: string): void {
  const actual = digestWithAlgorithmOf(expected, bytes);
  if (actual !== expected) {
    throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `Digest mismatch for ${what}: expected ${expected}, got ${actual}; the content is corrupt or was altered in transit`);
  }
}
