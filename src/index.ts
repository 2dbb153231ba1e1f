/**
 * The public library API of oci2fs (layer 11, below the CLI; see
 * docs/library.md). Everything an embedder needs — parse a reference, open
 * the content store, pull, convert to a filesystem image, compute fs-verity
 * digests, collect the conversion cache, match errors by code, listen to
 * progress — and nothing else. Anything not exported here is internal and may
 * change in any release. oci2fs is 0.x: this surface may still change in a
 * minor release, and the change is then named in the release notes.
 *
 * The library never prints and never exits: failures are thrown as
 * `Oci2fsError` with a stable `code`, progress goes to an optional
 * `ProgressListener`.
 */
import { resolve, join } from 'node:path';
import { parseReference, type ImageReference } from './reference/index.js';
import { Store } from './store/index.js';
import type { SourceOptions } from './source/index.js';
import { importImage, type ImportOptions, type ImportResult } from './convert/import.js';
import { formatFromPath, type Format } from './convert/formats.js';
import { defaultLevel, IMPORT_DEFAULTS, type WriterOptions } from './convert/writer-options.js';
import { ArtifactCache, type DeliveryMethod } from './cache/artifacts.js';
import type { AddSpec } from './finalize/finalize.js';
import type { ProgressListener } from './events.js';

// --- errors and progress --------------------------------------------------
export { Oci2fsError, ErrorCode, isOci2fsError, type ErrorCodeValue } from './errors.js';
export type { ProgressEvent, ProgressListener } from './events.js';

// --- references -----------------------------------------------------------
export {
  parseReference,
  formatReference,
  isValidReference,
  enrootFileName,
  TRANSPORTS,
  type ImageReference,
  type DockerReference,
  type LayoutReference,
  type PathReference,
  type Transport,
} from './reference/index.js';
export { parsePlatform, formatPlatform, hostPlatform, type Platform } from './image/index.js';

// --- store and sources ----------------------------------------------------
export { Store, defaultStoreDir, type VerifyReport, type VerifyProblem, type StoreDescriptor } from './store/index.js';
export { pullImage, resolveImage, fetchLayers, type ResolvedImage, type SourceOptions } from './source/index.js';

// --- conversion -----------------------------------------------------------
export { importImage, type ImportOptions, type ImportResult } from './convert/import.js';
export { FORMATS, DEFAULT_EXTENSION, parseFormat, formatFromPath, type Format } from './convert/formats.js';
export type { WriterOptions } from './convert/writer-options.js';
export type { DeliveryMethod } from './cache/artifacts.js';
export { parseAddSpec, type AddSpec } from './finalize/finalize.js';

// --- fs-verity ------------------------------------------------------------
export {
  fsverityDigestFile,
  fsverityDigestStream,
  formatFsverityLine,
  FSVERITY_DEFAULT_BLOCK_SIZE,
  type FsverityAlgorithm,
  type FsverityOptions,
} from './fsverity/index.js';

/**
 * Defaults `convert` fills in: the very ones `oci2fs import` uses (IMPORT_DEFAULTS,
 * src/convert/writer-options.ts), so a library conversion and a CLI conversion
 * with the same settings share one cache entry. docs/squashfs.md explains the squashfs choices.
 */
export const CONVERT_DEFAULTS = IMPORT_DEFAULTS;

/** Options of `convert`: only `output` is required. */
export interface ConvertOptions {
  /** Output file (a directory for format `dir`). Written atomically. */
  output: string;
  /** Output format; default from the extension of `output` (see `formatFromPath`), else squashfs. */
  format?: Format;
  /** An open store or its directory; default `Store.open()` ($OCI2FS_STORE, $XDG_CACHE_HOME/oci2fs, ~/.cache/oci2fs). */
  store?: Store | string;
  /** How to reach the image: platform, credentials, jobs, offline, insecure registries... */
  source?: Omit<SourceOptions, 'store' | 'events'>;
  /** Write /.enroot/source; default true. */
  provenance?: boolean;
  /** Add enroot's /etc/environment, /etc/rc, /etc/fstab, /etc/rc.local; default false. */
  enroot?: boolean;
  /** Host files to put into the image (relative `src` paths are resolved against the working directory). */
  add?: AddSpec[];
  /** Clamp mtimes newer than this (seconds). Not read from $SOURCE_DATE_EPOCH: pass it explicitly. */
  sourceDateEpoch?: number;
  /** Skip unsafe layer entries with a warning instead of failing; default false. */
  lenient?: boolean;
  /** Writer settings; unset fields get CONVERT_DEFAULTS. */
  writer?: Omit<WriterOptions, 'events'>;
  /** Use the conversion cache; default true. */
  cache?: boolean;
  /** How a cached image reaches `output`; default 'reflink-or-copy'. */
  delivery?: DeliveryMethod;
  events?: ProgressListener;
}

/** The writer options of `oci2fs import` with no writer flags, overridden field by field by `w`. */
function writerDefaults(w: Omit<WriterOptions, 'events'>, storeRoot: string): WriterOptions {
  const sq = w.squashfs ?? {};
  const compressor = sq.compressor ?? CONVERT_DEFAULTS.compressor;
  const level = sq.level ?? defaultLevel(compressor);
  const ext4 = w.ext4 ?? {};
  return {
    jobs: w.jobs,
    squashfs: { ...sq, compressor, level, blockSize: sq.blockSize ?? CONVERT_DEFAULTS.blockSize, lz4hc: sq.lz4hc ?? false },
    ext4: { ...ext4, journal: ext4.journal ?? false },
    composefs: {
      version: w.composefs?.version ?? CONVERT_DEFAULTS.composefsVersion,
      objectsDir: resolve(w.composefs?.objectsDir ?? join(storeRoot, CONVERT_DEFAULTS.objectsDir)),
    },
  };
}

/**
 * Converts an image to a root filesystem image at `opts.output`: the
 * library form of `oci2fs import REF -o OUTPUT`, with the CLI's defaults
 * (squashfs/zstd level 3/128 KiB blocks, provenance on, conversion cache on).
 * `ref` is a reference string (parsed with `parseReference`) or a parsed one.
 * @throws Oci2fsError (E_REFERENCE_INVALID, E_NOT_FOUND, E_AUTH, ...; see docs/errors.md)
 */
export async function convert(ref: string | ImageReference, opts: ConvertOptions): Promise<ImportResult> {
  const reference = typeof ref === 'string' ? parseReference(ref) : ref;
  const store = opts.store instanceof Store ? opts.store : await Store.open(opts.store);
  const full: ImportOptions = {
    store,
    source: opts.source ?? {},
    format: opts.format ?? formatFromPath(opts.output) ?? CONVERT_DEFAULTS.format,
    output: opts.output,
    provenance: opts.provenance ?? true,
    enroot: opts.enroot ?? false,
    add: (opts.add ?? []).map((a) => ({ ...a, src: resolve(a.src) })),
    sourceDateEpoch: opts.sourceDateEpoch,
    lenient: opts.lenient ?? false,
    writer: writerDefaults(opts.writer ?? {}, store.root),
    cache: opts.cache ?? true,
    delivery: opts.delivery ?? 'reflink-or-copy',
    events: opts.events,
  };
  return importImage(reference, full);
}

/** What `gcCache` removed. */
export interface GcResult {
  /** Cache keys of the removed artifacts. */
  removed: string[];
  /** Bytes of image files removed. */
  freed: number;
}

/**
 * Removes cached conversions of `store` last used before `olderThan` (the
 * library form of `oci2fs gc --older-than`). Files delivered as hardlinks
 * stay valid.
 */
export function gcCache(store: Store, opts: { olderThan: Date }): Promise<GcResult> {
  return new ArtifactCache(store.root).gc(opts);
}
