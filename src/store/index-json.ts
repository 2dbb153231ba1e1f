/**
 * The store's index.json (image-spec image-index.md, image-layout.md): pure
 * parse/serialize and the ref-table edit. No I/O here.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { normalizePlatform, parseDescriptor, type Descriptor, type Platform } from '../image/index.js';
import { ANNOTATION } from './layout.js';

/** image-spec media-types.md: the index media type. */
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Largest index.json we read (a store with tens of thousands of refs fits easily). */
export const MAX_INDEX_JSON_BYTES = 64 << 20;

/** Descriptors in index.json are image-spec descriptors (the image model's type). */
export type StoreDescriptor = Descriptor;
export type StorePlatform = Platform;

export interface IndexJson {
  schemaVersion: 2;
  mediaType: string;
  manifests: StoreDescriptor[];
  annotations?: Record<string, string>;
}

/** An empty index.json. */
export function emptyIndex(): IndexJson {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] };
}

/** Parses index.json bytes; throws E_STORE naming `where` when malformed. */
export function parseIndexJson(bytes: Uint8Array, where: string): IndexJson {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new Oci2fsError(ErrorCode.STORE, `${where} is not valid JSON; run \`oci2fs verify\` and re-pull`, { cause: e });
  }
  const o = v as Partial<IndexJson>;
  if (typeof o !== 'object' || o === null || o.schemaVersion !== 2 || !Array.isArray(o.manifests)) {
    throw new Oci2fsError(ErrorCode.STORE, `${where} is not an OCI image index (schemaVersion 2 with manifests[])`);
  }
  const manifests = (o.manifests as unknown[]).map((d, i) => {
    try {
      return parseDescriptor(d, `${where} manifests[${i}]`);
    } catch (e) {
      throw new Oci2fsError(ErrorCode.STORE, `${(e as Error).message}; fix or remove that entry`, { cause: e });
    }
  });
  return { ...o, schemaVersion: 2, mediaType: o.mediaType ?? MEDIA_TYPE_OCI_INDEX, manifests };
}

/** Serializes index.json (2-space indented, trailing newline). */
export function serializeIndexJson(index: IndexJson): Uint8Array {
  const doc = { ...index, manifests: index.manifests.map(descriptorJson) };
  return Buffer.from(JSON.stringify(doc, null, 2) + '\n', 'utf8');
}

/** A descriptor as image-spec JSON (platform keys `os.version`, `os.features`), fields in spec order. */
export function descriptorJson(d: Descriptor): Record<string, unknown> {
  const o: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls) o.urls = d.urls;
  if (d.annotations && Object.keys(d.annotations).length) {
    o.annotations = Object.fromEntries(Object.entries(d.annotations).sort(([a], [b]) => cmp(a, b)));
  }
  if (d.platform) {
    const p = d.platform;
    const pj: Record<string, unknown> = { architecture: p.architecture, os: p.os };
    if (p.osVersion !== undefined) pj['os.version'] = p.osVersion;
    if (p.osFeatures !== undefined) pj['os.features'] = p.osFeatures;
    if (p.variant !== undefined) pj.variant = p.variant;
    o.platform = pj;
  }
  if (d.artifactType) o.artifactType = d.artifactType;
  return o;
}

/** `os/arch[/variant]` of a platform, or '' when absent. */
export function platformKey(p: StorePlatform | undefined): string {
  if (!p) return '';
  const n = normalizePlatform(p);
  return [n.os, n.architecture, n.variant, n.osVersion].filter((s) => s).join('/');
}

/** The ref name of a descriptor, if any. */
export function refNameOf(d: StoreDescriptor): string | undefined {
  return d.annotations?.[ANNOTATION.refName];
}

/**
 * Returns a new index with `desc` named `name`: a previous entry with the same
 * name and the same platform (or no platform on either side) is replaced;
 * entries of other platforms under that name stay. Entries are sorted by
 * (name, platform) in byte order, so the file does not depend on pull order.
 */
export function withRef(index: IndexJson, name: string, desc: StoreDescriptor): IndexJson {
  const key = platformKey(desc.platform);
  const kept = index.manifests.filter((d) => !(refNameOf(d) === name && platformKey(d.platform) === key));
  const entry: StoreDescriptor = { ...desc, annotations: { ...desc.annotations, [ANNOTATION.refName]: name } };
  const manifests = [...kept, entry].sort(compareEntries);
  return { ...index, manifests };
}

/** Returns a new index without the entries named `name` (all platforms, or only `platform`'s). */
export function withoutRef(index: IndexJson, name: string, platform?: StorePlatform): IndexJson {
  const key = platform ? platformKey(platform) : undefined;
  return {
    ...index,
    manifests: index.manifests.filter((d) => !(refNameOf(d) === name && (key === undefined || platformKey(d.platform) === key))),
  };
}

function cmp(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return Buffer.compare(x, y);
}

function compareEntries(a: StoreDescriptor, b: StoreDescriptor): number {
  return cmp(refNameOf(a) ?? '', refNameOf(b) ?? '') || cmp(platformKey(a.platform), platformKey(b.platform)) || cmp(a.digest, b.digest);
}
