/**
 * The on-disk layout of the content store: an OCI image layout (image-spec
 * `image-layout.md`: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`) that
 * umoci and skopeo's `oci:` transport read, plus directories of our own that
 * those tools ignore. See docs/store.md.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** image-spec image-layout.md: the marker file and its only defined version. */
export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_VERSION = '1.0.0';
/** image-spec image-layout.md: the entry point of the layout. */
export const INDEX_FILE = 'index.json';
/** image-spec image-layout.md: blobs live at `blobs/<algorithm>/<encoded>`. */
export const BLOBS_DIR = 'blobs';
/** The only digest algorithm we store (image-spec descriptor.md: sha256 is REQUIRED). */
export const DIGEST_ALGORITHM = 'sha256';

/**
 * Directories of ours inside the store, created lazily. They are not part of
 * the OCI layout; OCI tools ignore unknown top-level entries.
 */
export const RESERVED_DIRS = {
  /** Partial downloads (`<alg>-<hex>.partial`, resumable) and unique temp files. */
  tmp: 'tmp',
  /** Lock files (see lock.ts). */
  locks: 'locks',
  /** Uncompressed layer tars by diff_id (`diffs/sha256/<hex>`), owned by the layer pipeline. */
  diffs: 'diffs',
  /** The conversion cache, owned by the artifact cache. */
  artifacts: 'artifacts',
} as const;

export type ReservedDir = keyof typeof RESERVED_DIRS;

/** Environment variable naming the store directory. */
export const STORE_ENV = 'OCI2FS_STORE';
/** Sub-directory of the XDG cache directory (XDG Base Directory spec). */
export const CACHE_SUBDIR = 'oci2fs';

/** Annotation keys we put on index.json descriptors (ours, reverse-domain style). */
export const ANNOTATION = {
  /** image-spec annotations.md: the ref name tools like skopeo/umoci match on. */
  refName: 'org.opencontainers.image.ref.name',
  /** The exact canonical reference (formatReference) the image was pulled as. */
  reference: 'dev.oci2fs.reference',
  /** The digest of the image index the manifest was selected from, if any. */
  indexDigest: 'dev.oci2fs.index-digest',
  /** When the ref was (last) pulled, RFC 3339 UTC. Cache metadata only. */
  pulledAt: 'dev.oci2fs.pulled-at',
} as const;

/**
 * The store directory: `dir` if given, else `$OCI2FS_STORE`, else
 * `$XDG_CACHE_HOME/oci2fs`, else `~/.cache/oci2fs`. Always absolute.
 */
export function defaultStoreDir(dir?: string, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  if (dir) return resolve(dir);
  if (env[STORE_ENV]) return resolve(env[STORE_ENV]!);
  const xdg = env.XDG_CACHE_HOME;
  // XDG Base Directory spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, CACHE_SUBDIR);
  return join(env.HOME && env.HOME.startsWith('/') ? env.HOME : home, '.cache', CACHE_SUBDIR);
}
