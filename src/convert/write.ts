/**
 * One dispatch from a validated tree to the writer of the chosen format.
 * Every writer writes to the path it is given; callers choose a temporary
 * name and rename after success. Writers are loaded on first use, so a
 * cache hit never pays for loading them.
 */
import { writeFile } from 'node:fs/promises';
import type { ValidatedTree, FileInode } from '../tree/types.js';
import { forEachInode, walk } from '../tree/types.js';
import { readFile as readInodeContent, closeContentFiles } from '../tree/content.js';
import type { Format } from './formats.js';
import type { WriterOptions } from './writer-options.js';

/**
 * Image timestamps (squashfs mkfs time, ext4 superblock times) come from the
 * tree, never the clock: the newest mtime in the tree, clamped to 0..2^32-1.
 */
export function treeTimestamp(tree: ValidatedTree): number {
  let max = 0;
  forEachInode(tree.root, (inode) => {
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
    const { fsverityDigestStream } = await import('../fsverity/index.js');
    out.set(f, f.fsverityDigest ?? (await fsverityDigestStream(readInodeContent(f))));
  }
  return out;
}

/**
 * Each format's writer module. Loaded on first use, so a cache hit never
 * pays for it, or early by preloadWriter.
 */
const WRITERS = {
  tar: () => import('../writers/tar/write.js'),
  dir: () => import('../writers/dir/write.js'),
  dumpfile: () => import('../dumpfile/index.js'),
  squashfs: () => import('../writers/squashfs/writer.js'),
  erofs: () => import('../writers/erofs/index.js'),
  composefs: () => import('../writers/erofs/index.js'),
  ext4: () => import('../writers/ext4/index.js'),
} as const satisfies Record<Format, () => Promise<unknown>>;

/**
 * Starts loading `format`'s writer while the tree is still being built.
 * Loaded only once the tree was there, the tar writer took 0.10-0.13 s to
 * load in the first conversion of the benchmark (the module loader's reads
 * queue behind the layer work), all of it between the last layer and the
 * first byte written. A failure to load is reported where the writer is used.
 */
export function preloadWriter(format: Format): void {
  WRITERS[format]().catch(() => undefined);
}

/**
 * Writes `tree` as `format` to `outPath`. Returns facts worth reporting (e.g.
 * a digest). Content descriptors opened while writing are closed afterwards,
 * so no file (or mount) stays busy after a conversion. `mirror` (any format
 * but dir) gets the same bytes as `outPath`, written at the same time.
 */
export async function writeFormat(
  tree: ValidatedTree,
  format: Format,
  outPath: string,
  opts: WriterOptions,
  mirror?: string,
): Promise<Record<string, string | number>> {
  try {
    return await writeWith(tree, format, outPath, opts, mirror === undefined ? {} : { mirror });
  } finally {
    closeContentFiles();
  }
}

async function writeWith(
  tree: ValidatedTree,
  format: Format,
  outPath: string,
  opts: WriterOptions,
  m: { mirror?: string },
): Promise<Record<string, string | number>> {
  switch (format) {
    case 'tar': {
      const { writeTar } = await WRITERS.tar();
      await writeTar(tree, outPath, m);
      return {};
    }
    case 'dir': {
      // never mirrored: directories are not cached (formats.ts isCacheable)
      const { writeDir } = await WRITERS.dir();
      const r = await writeDir(tree, outPath);
      return { skipped: r.skipped.length };
    }
    case 'dumpfile': {
      const { formatDumpfile } = await WRITERS.dumpfile();
      const text = formatDumpfile(tree, { digests: await fileDigests(tree) });
      await writeFile(outPath, text);
      if (m.mirror !== undefined) await writeFile(m.mirror, text);
      return {};
    }
    case 'squashfs': {
      const { writeSquashfs } = await WRITERS.squashfs();
      const r = await writeSquashfs(tree, outPath, { ...opts.squashfs, jobs: opts.jobs, mtime: treeTimestamp(tree), events: opts.events, ...m });
      return { bytes: r.bytes };
    }
    case 'erofs': {
      const { writeErofs } = await WRITERS.erofs();
      const r = await writeErofs(tree, outPath, m);
      return { bytes: r.bytes };
    }
    case 'composefs': {
      const c = opts.composefs;
      if (!c) throw new Error('composefs needs an objects directory');
      const { writeComposefs } = await WRITERS.composefs();
      const r = await writeComposefs(tree, outPath, { version: c.version ?? 1, objectsDir: c.objectsDir, ...m });
      return { fsverityDigest: r.fsverityDigest, objects: r.objects, newObjects: r.newObjects };
    }
    case 'ext4': {
      const { writeExt4 } = await WRITERS.ext4();
      const r = await writeExt4(tree, outPath, { ...opts.ext4, mtime: treeTimestamp(tree), events: opts.events, ...m });
      return { bytes: r.bytes };
    }
  }
}
