/**
 * The parsed form of an image reference: where an image comes from.
 * See docs/references.md for the accepted syntaxes and normalisation rules.
 */

/** A reference to an image in a registry (Docker Registry HTTP API v2 / OCI distribution). */
export interface DockerReference {
  transport: 'docker';
  /** Registry host[:port], normalised: Docker Hub is always `docker.io`. */
  registry: string;
  /** Repository path, e.g. `library/alpine`. Always lowercase and grammar-valid. */
  repository: string;
  /** Tag; `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** Digest (`sha256:<64 hex>` or `sha512:<128 hex>`); wins over `tag` for fetching. */
  digest?: string;
  /** enroot's `USER@` prefix: the login to look credentials up for. Never formatted back. */
  user?: string;
}

/** A reference to an image in a local OCI layout or an archive. */
export interface LayoutReference {
  transport: 'oci' | 'oci-archive' | 'docker-archive';
  /** Absolute path of the directory or archive file. */
  path: string;
  /** The image inside: an OCI ref name (oci, oci-archive) or a Docker reference / `@N` index (docker-archive). */
  ref?: string;
}

/** A reference to a directory tree or a composefs dumpfile. */
export interface PathReference {
  transport: 'dir' | 'dumpfile';
  /** Absolute path. */
  path: string;
}

export type ImageReference = DockerReference | LayoutReference | PathReference;

/** All transports, in the spelling used before the `:` of a reference. */
export const TRANSPORTS = ['docker', 'oci', 'oci-archive', 'docker-archive', 'dir', 'dumpfile'] as const;
export type Transport = (typeof TRANSPORTS)[number];
