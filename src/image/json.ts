/** Small helpers for validating parsed JSON documents. */
import { Oci2fsError, ErrorCode } from '../errors.js';

/** A JSON object (not null, not an array). */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws E_MANIFEST_INVALID with `where` prefixed. */
export function invalid(where: string, problem: string): never {
  throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `${where}: ${problem}`);
}

/** Validates an optional string→string map (annotations, labels). */
export function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) invalid(where, 'must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') invalid(where, `value of ${JSON.stringify(k)} must be a string`);
    out[k] = val;
  }
  return out;
}

