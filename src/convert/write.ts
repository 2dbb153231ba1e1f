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
  const mtime = treeTimestamp(tree);
  switch (format) {
    case 'tar': {
      const { writeTar } = await import('../writers/tar/write.js');
      await writeTar(tree, outPath, m);
      return {};
    }
    case 'dir': {
      // never mirrored: directories are not cached (formats.ts isCacheable)
      const { writeDir } = await import('../writers/dir/write.js');
      const r = await writeDir(tree, outPath);
      return { skipped: r.skipped.length };
    }
    case 'dumpfile': {
      const { formatDumpfile } = await import('../dumpfile/index.js');
      const text = formatDumpfile(tree, { digests: await fileDigests(tree) });
      await writeFile(outPath, text);
      if (m.mirror !== undefined) await writeFile(m.mirror, text);
      return {};
    }
    case 'squashfs': {
      const { writeSquashfs } = await import('../writers/squashfs/writer.js');
      const r = await writeSquashfs(tree, outPath, { ...opts.squashfs, jobs: opts.jobs, mtime, events: opts.events, ...m });
      return { bytes: r.bytes };
    }
    case 'erofs': {
      const { writeErofs } = await import('../writers/erofs/index.js');
      const r = await writeErofs(tree, outPath, m);
      return { bytes: r.bytes };
    }
    case 'composefs': {
      const c = opts.composefs;
      if (!c) throw new Error('composefs needs an objects directory');
      const { writeComposefs } = await import('../writers/erofs/index.js');
      const r = await writeComposefs(tree, outPath, { version: c.version ?? 1, objectsDir: c.objectsDir, ...m });
      return { fsverityDigest: r.fsverityDigest, objects: r.objects, newObjects: r.newObjects };
    }
    case 'ext4': {
      const { writeExt4 } = await import('../writers/ext4/index.js');
      const r = await writeExt4(tree, outPath, { ...opts.ext4, mtime, events: opts.events, ...m });
      return { bytes: r.bytes };
    }
  }
}
