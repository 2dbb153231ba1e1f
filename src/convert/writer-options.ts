/** Writer options of an import, and the subset that belongs in the cache key. */
import type { SquashfsOptions } from '../writers/squashfs/writer.js';
import type { Ext4Options } from '../writers/ext4/index.js';
import type { ProgressListener } from '../events.js';
import type { Format } from './formats.js';

/**
 * What an import uses when no option says otherwise: `oci2fs import` and the
 * library's `convert` both read these (docs/squashfs.md says why zstd).
 */
export const IMPORT_DEFAULTS = {
  /** Format when neither an option nor the output's extension says otherwise. */
  format: 'squashfs',
  /** squashfs compressor (the kernel reads zstd since 4.14). */
  compressor: 'zstd',
  /** Compression level per compressor; lz4 and none have none. */
  level: { zstd: 3, gzip: 9 },
  /** squashfs block size, 128 KiB (mksquashfs's default). */
  blockSize: 128 * 1024,
  /** composefs format version (what cfsctl writes). */
  composefsVersion: 1,
  /** Directory, inside the store, of composefs content objects. */
  objectsDir: 'objects',
} as const;

/** The default level of a squashfs compressor (undefined: it has none). */
export function defaultLevel(compressor: string): number | undefined {
  return compressor === 'zstd' || compressor === 'gzip' ? IMPORT_DEFAULTS.level[compressor] : undefined;
}

export interface WriterOptions {
  squashfs?: Omit<SquashfsOptions, 'mtime' | 'events'>;
  ext4?: Omit<Ext4Options, 'mtime' | 'events'>;
  composefs?: { version?: 0 | 1 | 'auto'; objectsDir: string };
  /** Worker threads for compression (squashfs). */
  jobs?: number;
  events?: ProgressListener;
}

/** The options that change bytes, for the cache key (no paths, no job counts). */
export function keyedWriterOptions(format: Format, o: WriterOptions): Record<string, unknown> {
  switch (format) {
    case 'squashfs':
      return { ...o.squashfs, jobs: undefined };
    case 'ext4':
      return { ...o.ext4 };
    case 'composefs':
      // the objects directory is a side effect of the build: a hit must not skip it
      return { version: o.composefs?.version ?? 1, objectsDir: o.composefs?.objectsDir };
    default:
      return {};
  }
}

