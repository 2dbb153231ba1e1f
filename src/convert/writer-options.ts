/** Writer options of an import, and the subset that belongs in the cache key. */
import type { SquashfsOptions } from '../writers/squashfs/writer.js';
import type { Ext4Options } from '../writers/ext4/index.js';
import type { ProgressListener } from '../events.js';
import type { Format } from './formats.js';

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

