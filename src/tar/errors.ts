/**
 * Error helpers of the tar codec: every message names the archive (the
 * layer label) and the byte offset of the offending header in the
 * uncompressed stream, so a user can find it with `tar -R` or a hex dump.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';

/** Where in which archive we are (for error messages). */
export interface TarContext {
  /** Human-readable name of the archive, e.g. "layer 3 (sha256:ab12…)". */
  label: string;
  /** Offset of the current header block in the uncompressed tar stream. */
  offset: number;
}

/** E_TAR_INVALID for a malformed archive. */
export function tarInvalid(ctx: TarContext, what: string): Oci2fsError {
  return new Oci2fsError(
    ErrorCode.TAR_INVALID,
    `${ctx.label}: invalid tar entry at offset ${ctx.offset}: ${what}. The archive is corrupt or not a tar file; re-fetch it or report the producer`,
  );
}

/** E_LIMIT for an archive that exceeds one of our resource limits. */
export function tarLimit(ctx: TarContext, what: string, limitName: string): Oci2fsError {
  return new Oci2fsError(
    ErrorCode.LIMIT,
    `${ctx.label}: tar entry at offset ${ctx.offset}: ${what} (limit ${limitName}); raise the limit only if you trust this image`,
  );
}
