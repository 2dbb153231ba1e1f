/**
 * Content descriptors (OCI image-spec descriptor.md) and their validation.
 * Docker schema 2 uses the same shape.
 */
import { parseDigest } from './digest.js';
import { isValidMediaType } from './media-types.js';
import { invalid, isJsonObject, stringMap } from './json.js';
import type { Platform } from './platform.js';
import { platformFromJson } from './platform.js';

/** A reference to content by digest and size. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Only on index entries. */
  platform?: Platform;
  artifactType?: string;
}

/**
 * Validates one descriptor object. `where` names it in messages, e.g.
 * "manifest layers[2]". Throws E_MANIFEST_INVALID (or E_UNSUPPORTED for a
 * digest algorithm we cannot verify).
 */
export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isJsonObject(v)) invalid(where, 'descriptor must be an object');
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || !isValidMediaType(mediaType)) {
    invalid(where, `mediaType ${JSON.stringify(mediaType)} is not a valid media type`);
  }
  if (typeof digest !== 'string') invalid(where, 'digest must be a string');
  parseDigest(digest, `${where} digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    invalid(where, `size ${JSON.stringify(size)} must be a non-negative integer`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (v.urls !== undefined) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) invalid(where, 'urls must be an array of strings');
    d.urls = v.urls as string[];
  }
  const annotations = stringMap(v.annotations, `${where} annotations`);
  if (annotations) d.annotations = annotations;
  if (v.platform !== undefined) d.platform = platformFromJson(v.platform, `${where} platform`);
  if (v.artifactType !== undefined) {
    if (typeof v.artifactType !== 'string' || !isValidMediaType(v.artifactType)) invalid(where, 'artifactType must be a media type');
    d.artifactType = v.artifactType;
  }
  return d;
}
