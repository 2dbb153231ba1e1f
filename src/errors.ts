/**
 * The one error class of oci2fs. Every failure the library reports is an
 * `Oci2fsError` with a stable `code` (documented in docs/errors.md) that
 * callers and scripts match on; `message` says what failed, on which input,
 * and what to do. The CLI maps codes to exit statuses (see EXIT_STATUS).
 */

/** Stable error codes. Add new codes here and to docs/errors.md. */
export const ErrorCode = {
  /** Bad command-line usage or option value. */
  USAGE: 'E_USAGE',
  /** An image reference that cannot be parsed. */
  REFERENCE_INVALID: 'E_REFERENCE_INVALID',
  /** Authentication failed or credentials are missing/unusable. */
  AUTH: 'E_AUTH',
  /** The registry or source does not have the requested manifest/blob/tag. */
  NOT_FOUND: 'E_NOT_FOUND',
  /** Network failure after all retries. */
  NETWORK: 'E_NETWORK',
  /** The registry answered with an unexpected HTTP status. */
  REGISTRY: 'E_REGISTRY',
  /** Content does not match its digest or declared size. */
  DIGEST_MISMATCH: 'E_DIGEST_MISMATCH',
  /** A manifest, index, config or layout document is malformed or unsupported. */
  MANIFEST_INVALID: 'E_MANIFEST_INVALID',
  /** A media type or schema we do not support (e.g. Docker schema 1). */
  UNSUPPORTED: 'E_UNSUPPORTED',
  /** No manifest in an index matches the requested platform. */
  PLATFORM_NOT_FOUND: 'E_PLATFORM_NOT_FOUND',
  /** The local store is damaged or a lock cannot be taken. */
  STORE: 'E_STORE',
  /** A tar header/archive is malformed. */
  TAR_INVALID: 'E_TAR_INVALID',
  /** A limit (header size, decompression ratio, entry count...) was exceeded. */
  LIMIT: 'E_LIMIT',
  /** A compressed stream is corrupt or of unknown format. */
  COMPRESSION: 'E_COMPRESSION',
  /** An entry path escapes the root or is otherwise unsafe. */
  UNSAFE_PATH: 'E_UNSAFE_PATH',
  /** The filesystem tree is invalid for the requested writer. */
  TREE_INVALID: 'E_TREE_INVALID',
  /** A composefs dumpfile cannot be parsed or is rejected. */
  DUMPFILE_INVALID: 'E_DUMPFILE_INVALID',
  /** The content does not fit the requested image size. */
  NO_SPACE: 'E_NO_SPACE',
  /** Local file I/O failed. */
  IO: 'E_IO',
  /** An internal invariant was violated (a bug in oci2fs). */
  INTERNAL: 'E_INTERNAL',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Process exit status for each code (documented in docs/errors.md). */
export const EXIT_STATUS: Record<ErrorCodeValue, number> = {
  E_USAGE: 2,
  E_REFERENCE_INVALID: 2,
  E_AUTH: 3,
  E_NOT_FOUND: 4,
  E_PLATFORM_NOT_FOUND: 4,
  E_NETWORK: 5,
  E_REGISTRY: 5,
  E_DIGEST_MISMATCH: 6,
  E_MANIFEST_INVALID: 6,
  E_TAR_INVALID: 6,
  E_COMPRESSION: 6,
  E_UNSAFE_PATH: 6,
  E_LIMIT: 6,
  E_TREE_INVALID: 6,
  E_DUMPFILE_INVALID: 6,
  E_UNSUPPORTED: 7,
  E_STORE: 8,
  E_NO_SPACE: 9,
  E_IO: 10,
  E_INTERNAL: 70,
};

export class Oci2fsError extends Error {
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Oci2fsError';
    this.code = code;
  }
}

/** True when `e` is an Oci2fsError, optionally with the given code. */
export function isOci2fsError(e: unknown, code?: ErrorCodeValue): e is Oci2fsError {
  return e instanceof Oci2fsError && (code === undefined || e.code === code);
}
