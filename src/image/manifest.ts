/**
 * Parsing and validating manifest documents: OCI image manifests and indexes
 * (image-spec manifest.md, image-index.md) and Docker schema 2 manifests and
 * manifest lists. Docker schema 1 is recognised and rejected.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { parseDescriptor } from './descriptor.js';
import type { Descriptor } from './descriptor.js';
import { invalid, isJsonObject, stringMap } from './json.js';
import type { JsonObject } from './json.js';
import {
  baseMediaType,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  OCI_INDEX,
  OCI_MANIFEST,
  SCHEMA1_MEDIA_TYPES,
} from './media-types.js';

/**
 * Largest manifest/index we accept, in bytes. The OCI distribution spec lets
 * registries reject manifests over 4 MiB ("Pushing Manifests"), and containerd
 * and the distribution registry use the same bound.
 */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

/** A single-platform image manifest. */
export interface ImageManifest {
  schemaVersion: 2;
  /** OCI_MANIFEST or DOCKER_MANIFEST (from the document or, failing that, the transport). */
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** A multi-platform index (OCI index or Docker manifest list). */
export interface ImageIndex {
  schemaVersion: 2;
  /** OCI_INDEX or DOCKER_MANIFEST_LIST. */
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ManifestDocument = { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

const WHERE = 'manifest';

function schema1(): never {
  throw new Oci2fsError(
    ErrorCode.UNSUPPORTED,
    'Docker image manifest schema 1 is not supported (deprecated since 2017): re-push the image with a current Docker or use a schema 2/OCI tag',
  );
}

/** Decides manifest vs index from the document's mediaType, the transport header, then the shape. */
function classify(doc: JsonObject, header: string | undefined): { kind: 'manifest' | 'index'; mediaType: string } {
  const own = doc.mediaType;
  if (own !== undefined && typeof own !== 'string') invalid(WHERE, 'mediaType must be a string');
  if (typeof own === 'string') {
    if (SCHEMA1_MEDIA_TYPES.includes(own)) schema1();
    const ownKind = MANIFEST_MEDIA_TYPES.includes(own) ? 'manifest' : INDEX_MEDIA_TYPES.includes(own) ? 'index' : undefined;
    if (!ownKind) {
      invalid(WHERE, `unknown mediaType ${JSON.stringify(own)}: expected an OCI or Docker schema 2 manifest or index`);
    }
    const headerKind = header && MANIFEST_MEDIA_TYPES.includes(header) ? 'manifest' : header && INDEX_MEDIA_TYPES.includes(header) ? 'index' : undefined;
    if (headerKind && headerKind !== ownKind) {
      invalid(WHERE, `document says mediaType ${own} but was served as ${header}`);
    }
    return { kind: ownKind, mediaType: own };
  }
  if (header && MANIFEST_MEDIA_TYPES.includes(header)) return { kind: 'manifest', mediaType: header };
  if (header && INDEX_MEDIA_TYPES.includes(header)) return { kind: 'index', mediaType: header };
  // OCI allows mediaType to be absent; fall back to the document's shape.
  if (Array.isArray(doc.manifests) && doc.config === undefined) return { kind: 'index', mediaType: OCI_INDEX };
  if (isJsonObject(doc.config) && Array.isArray(doc.layers)) return { kind: 'manifest', mediaType: OCI_MANIFEST };
  return invalid(WHERE, `cannot tell the document type${header ? ` (served as ${header})` : ''}: no mediaType, and neither "manifests" nor "config"+"layers"`);
}

function optionalDescriptor(v: unknown, where: string): Descriptor | undefined {
  return v === undefined || v === null ? undefined : parseDescriptor(v, where);
}

/**
 * Parses a manifest or index. `mediaTypeHeader` is the Content-Type it was
 * served with (parameters are ignored). Throws E_LIMIT (too big),
 * E_UNSUPPORTED (schema 1), E_MANIFEST_INVALID (anything malformed).
 */
export function parseManifestDocument(bytes: Uint8Array, mediaTypeHeader?: string): ManifestDocument {
  if (bytes.length > MANIFEST_MAX_BYTES) {
    throw new Oci2fsError(ErrorCode.LIMIT, `Manifest is ${bytes.length} bytes, over the ${MANIFEST_MAX_BYTES}-byte limit`);
  }
  const header = mediaTypeHeader ? baseMediaType(mediaTypeHeader) : undefined;
  if (header && SCHEMA1_MEDIA_TYPES.includes(header)) schema1();
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch (e) {
    throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `${WHERE}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!isJsonObject(doc)) invalid(WHERE, 'must be a JSON object');
  if (doc.schemaVersion === 1) schema1();
  if (doc.schemaVersion !== 2) invalid(WHERE, `schemaVersion ${JSON.stringify(doc.schemaVersion)} is not 2`);
  const { kind, mediaType } = classify(doc, header);
  const annotations = stringMap(doc.annotations, `${WHERE} annotations`);
  const subject = optionalDescriptor(doc.subject, `${WHERE} subject`);
  let artifactType: string | undefined;
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== 'string') invalid(WHERE, 'artifactType must be a string');
    artifactType = doc.artifactType;
  }
  const extras = { ...(artifactType ? { artifactType } : {}), ...(subject ? { subject } : {}), ...(annotations ? { annotations } : {}) };

  if (kind === 'index') {
    if (!Array.isArray(doc.manifests)) invalid(WHERE, 'index has no "manifests" array');
    const manifests = (doc.manifests as unknown[]).map((m, i) => parseDescriptor(m, `${WHERE} manifests[${i}]`));
    if (mediaType === DOCKER_MANIFEST_LIST) {
      manifests.forEach((m, i) => {
        if (!m.platform) invalid(WHERE, `manifest list entry manifests[${i}] has no platform`);
      });
    }
    return { kind: 'index', index: { schemaVersion: 2, mediaType, manifests, ...extras } };
  }
  if (doc.config === undefined) invalid(WHERE, 'image manifest has no "config"');
  const config = parseDescriptor(doc.config, `${WHERE} config`);
  if (!Array.isArray(doc.layers)) invalid(WHERE, 'image manifest has no "layers" array');
  const layers = (doc.layers as unknown[]).map((l, i) => parseDescriptor(l, `${WHERE} layers[${i}]`));
  if (mediaType === DOCKER_MANIFEST && layers.length === 0) {
    invalid(WHERE, 'Docker schema 2 manifest has no layers');
  }
  return { kind: 'manifest', manifest: { schemaVersion: 2, mediaType, config, layers, ...extras } };
}
