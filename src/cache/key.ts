/**
 * The conversion-cache key: a sha256 over everything that determines an
 * artifact's bytes, and nothing else (no tag, no registry name, no time).
 * See docs/cache.md.
 */
import { createHash } from 'node:crypto';

/**
 * Version of the flatten + finalize rules. Bump when a change alters the tree
 * built from the same layers, so stale artifacts are never served.
 */
export const TREE_RULES_VERSION = 1;

/**
 * Version of each writer's output. Bump a format's number whenever the same
 * tree and options would give different bytes.
 */
export const WRITER_VERSION: Record<string, number> = {
  tar: 1,
  dumpfile: 1,
  squashfs: 1,
  erofs: 1,
  composefs: 1,
  ext4: 1,
};

export interface ArtifactKeyInput {
  /** Image config digest: names the layers (diff_ids) and config exactly, stable across tags and registries. */
  configDigest: string;
  /** Selected platform, e.g. "linux/amd64". */
  platform: string;
  format: string;
  /** Writer options that affect bytes (compressor, level, block size, size, label...). */
  writerOptions: Record<string, unknown>;
  /** Exact content of the provenance file, or null when provenance is off. */
  provenance: string | null;
  /** Finalize options that affect the tree (enroot files, --add sources by content digest, source date epoch, lenient). */
  finalize: Record<string, unknown>;
}

/** JSON with object keys sorted at every level, so the key never depends on insertion order. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/** The cache key (64 hex chars) for an artifact. */
export function artifactKey(input: ArtifactKeyInput): string {
  const doc = {
    v: 1,
    treeRules: TREE_RULES_VERSION,
    writer: WRITER_VERSION[input.format] ?? 0,
    ...input,
  };
  return createHash('sha256').update(canonicalJson(doc)).digest('hex');
}
