/**
 * Media types of the OCI image spec (image-spec v1.1, media-types.md) and of
 * Docker's image manifest v2 schema 2 (distribution/docs/spec/manifest-v2-2.md).
 */

/** OCI image manifest (image-spec manifest.md). */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index (image-spec image-index.md). */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** OCI image configuration (image-spec config.md). */
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** OCI empty descriptor payload `{}` (image-spec 1.1 manifest.md "Guidance for an Empty Descriptor"). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
/** OCI layer, uncompressed tar. */
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
/** OCI layer, gzip-compressed tar. */
export const OCI_LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** OCI layer, zstd-compressed tar. */
export const OCI_LAYER_TAR_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** OCI non-distributable layers (deprecated in image-spec 1.1 but still valid to read). */
export const OCI_LAYER_ND_TAR = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const OCI_LAYER_ND_TAR_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
export const OCI_LAYER_ND_TAR_ZSTD = 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';

/** Docker image manifest v2, schema 2. */
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list (multi-platform), schema 2. */
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker container image configuration. */
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
/** Docker gzip-compressed layer. */
export const DOCKER_LAYER_TAR_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** Docker "foreign" (non-distributable, e.g. Windows base) gzip-compressed layer. */
export const DOCKER_LAYER_FOREIGN_TAR_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
/** Docker schema 1 manifests (deprecated, unsupported by oci2fs). */
export const DOCKER_SCHEMA1_MANIFEST = 'application/vnd.docker.distribution.manifest.v1+json';
export const DOCKER_SCHEMA1_SIGNED_MANIFEST = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** Media types of single-image manifests. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];
/** Media types of multi-platform indexes. */
export const INDEX_MEDIA_TYPES: readonly string[] = [OCI_INDEX, DOCKER_MANIFEST_LIST];
/** Media types of image configurations. */
export const CONFIG_MEDIA_TYPES: readonly string[] = [OCI_CONFIG, DOCKER_CONFIG];
/** Schema 1 media types, recognised only to reject them clearly. */
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED_MANIFEST];

/**
 * The `Accept` header value for manifest requests: every manifest and index
 * type we can read. Schema 1 is deliberately absent so registries that can
 * convert serve schema 2.
 */
export const MANIFEST_ACCEPT: string = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');

/** How a layer blob is compressed. */
export type LayerCompression = 'gzip' | 'zstd' | 'none';

const LAYER_COMPRESSION: Record<string, LayerCompression> = {
  [OCI_LAYER_TAR]: 'none',
  [OCI_LAYER_TAR_GZIP]: 'gzip',
  [OCI_LAYER_TAR_ZSTD]: 'zstd',
  [OCI_LAYER_ND_TAR]: 'none',
  [OCI_LAYER_ND_TAR_GZIP]: 'gzip',
  [OCI_LAYER_ND_TAR_ZSTD]: 'zstd',
  [DOCKER_LAYER_TAR_GZIP]: 'gzip',
  [DOCKER_LAYER_FOREIGN_TAR_GZIP]: 'gzip',
};

/**
 * The compression of a layer media type, or undefined when the type is not a
 * filesystem layer we know (e.g. an artifact or attestation blob).
 */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return Object.prototype.hasOwnProperty.call(LAYER_COMPRESSION, mediaType) ? LAYER_COMPRESSION[mediaType] : undefined;
}

/** True for layer types that are non-distributable/foreign (may carry `urls`). */
export function isNonDistributableLayer(mediaType: string): boolean {
  return mediaType === DOCKER_LAYER_FOREIGN_TAR_GZIP || mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.');
}

/** RFC 6838 §4.2 restricted-name syntax for `type/subtype` (parameters not allowed in descriptors). */
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** True when `s` is a syntactically valid media type. */
export function isValidMediaType(s: string): boolean {
  return MEDIA_TYPE_RE.test(s);
}

/** Strips parameters (`; charset=...`) and whitespace from a Content-Type header value. */
export function baseMediaType(header: string): string {
  return header.split(';')[0].trim().toLowerCase();
}
