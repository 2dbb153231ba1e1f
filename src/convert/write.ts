/**
 * One dispatch from a validated tree to the writer of the chosen format.
 * Every writer writes to the path it is given; callers choose a temporary
 * name and rename after success.
 */
import { writeFile } from 'node:fs/promises';
import type { ValidatedTree, FileInode } from '../tree/types.js';
import { walk } from '../tree/types.js';
import { readFile as readInodeContent } from '../tree/content.js';
import type { Format } from './formats.js';
import { writeTar } from '../writers/tar/write.js';
import { writeDir } from '../writers/dir/write.js';
import { writeSquashfs, type SquashfsOptions } from '../writers/squashfs/writer.js';
import { writeErofs, writeComposefs } from '../writers/erofs/index.js';
import { writeExt4, type Ext4Options } from '../writers/ext4/index.js';
import { formatDumpfile } from '../dumpfile/index.js';
import { fsverityDigestStream } from '../fsverity/index.js';
import type { ProgressListener } from '../events.js';

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

/**
 * Image timestamps (squashfs mkfs time, ext4 superblock times) come from the
 * tree, never the clock: the newest mtime in the tree, clamped to 0..2^32-1.
 */
export function treeTimestamp(tree: ValidatedTree): number {
  let max = 0;
  walk(tree.root, (_p, inode) => {
    if (inode.mtimeSec > max) max = inode.mtimeSec;
  });
  return Math.min(max, 0xffffffff);
}

/** fs-verity digests of every regular file (for dumpfile payloads). */
async function fileDigests(tree: ValidatedTree): Promise<Map<FileInode, string>> {
  const files: FileInode[] = [];
  walk(tree.root, (_p, inode) => {
    if (inode.kind === 'file' && inode.content.kind !== 'external') files.push(inode);
  });
  const out = new Map<FileInode, string>();
  for (const f of files) {
    if (out.has(f)) continue;
    out.set(f, f.fsverityDigest ?? (await fsverityDigestStream(readInodeContent(f))));
  }
  return out;
}

/** Writes `tree` as `format` to `outPath`. Returns facts worth reporting (e.g. a digest). */
export async function writeFormat(
  tree: ValidatedTree,
  format: Format,
  outPath: string,
  opts: WriterOptions,
): Promise<Record<string, string | number>> {
  const mtime = treeTimestamp(tree);
  switch (format) {
    case 'tar':
      await writeTar(tree, outPath);
      return {};
    case 'dir': {
      const r = await writeDir(tree, outPath);
      return { skipped: r.skipped.length };
    }
    case 'dumpfile':
      await writeFile(outPath, formatDumpfile(tree, { digests: await fileDigests(tree) }));
      return {};
    case 'squashfs': {
      const r = await writeSquashfs(tree, outPath, { ...opts.squashfs, jobs: opts.jobs, mtime, events: opts.events });
      return { bytes: r.bytes };
    }
    case 'erofs': {
      const r = await writeErofs(tree, outPath, {});
      return { bytes: r.bytes };
    }
    case 'composefs': {
      const c = opts.composefs;
      if (!c) throw new Error('composefs needs an objects directory');
      const r = await writeComposefs(tree, outPath, { version: c.version ?? 1, objectsDir: c.objectsDir });
      return { fsverityDigest: r.fsverityDigest, objects: r.objects, newObjects: r.newObjects };
    }
    case 'ext4': {
      const r = await writeExt4(tree, outPath, { ...opts.ext4, mtime, events: opts.events });
      return { bytes: r.bytes };
    }
  }
}
