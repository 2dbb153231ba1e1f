/**
 * writeExt4: a ValidatedTree → an ext4 image file, without root, mkfs or
 * loop devices. Plan everything in memory (inode numbers, directory blocks,
 * xattr placement, block allocation), then stream file contents in one
 * sequential pass and write the metadata. See docs/ext4.md.
 */
import { silent, type ProgressListener } from '../../events.js';
import type { ValidatedTree } from '../../tree/types.js';
import { BLOCK_SIZE } from './constants.js';
import { collect } from './collect.js';
import { buildExtentTree } from './extent.js';
import { makeIdentity, type Identity } from './identity.js';
import { inodeSeed } from './inode.js';
import { writeMetadata } from './metadata.js';
import { ImageOutput, type SourceFile } from '../output.js';
import { ContentSources } from '../sources.js';
import { readFile } from '../../tree/content.js';
import { prepareAll, prepareJournal, type Prepared } from './prepare.js';
import { journalBlocksFor, journalSuperblock } from './journal.js';
import { dataBlocksLowerBound } from './allocate.js';
import { chooseSize } from './sizing.js';
import { finishXattrBlock } from './xattr.js';

/** Options of writeExt4. */
export interface Ext4Options {
  /** Also write every byte to this file (see OutputOptions.mirror). */
  mirror?: string;
  /** Exact image size in bytes; default automatic: content + metadata + headroom. */
  size?: number;
  /** Fraction of extra free space for automatic sizes (and inodes), default 0.2. */
  headroom?: number;
  /** Inode count; default automatic (files + headroom + one per 16 KiB of free space, rounded per group). */
  inodes?: number;
  /** Volume label (≤ 16 bytes UTF-8). */
  label?: string;
  /** UUID; default derived from the tree (metadata, sizes, sparse maps) and options. */
  uuid?: string;
  /** Internal journal (inode 8), sized like mke2fs (4–128 MiB); default false. */
  journal?: boolean;
  /** Superblock timestamps (mkfs/write/check time) and lost+found's mtime; default the root's mtime. */
  mtime?: number;
  events?: ProgressListener;
}

/** What writeExt4 made. */
export interface Ext4Result {
  /** Image file size in bytes. */
  bytes: number;
  /** Filesystem blocks (4 KiB each). */
  blocks: number;
  /** Total inodes (s_inodes_count). */
  inodes: number;
}

/** Progress phase name for data streaming. */
const PHASE = 'ext4';

/**
 * Writes `tree` as an ext4 filesystem image to `outPath` (a sparse file).
 * Deterministic: the same tree and options give the same bytes.
 * Throws E_NO_SPACE when `size` is too small, E_TREE_INVALID for content
 * ext4 cannot hold (e.g. xattrs larger than a block), E_IO on write errors.
 */
export async function writeExt4(tree: ValidatedTree, outPath: string, opts: Ext4Options = {}): Promise<Ext4Result> {
  const events = opts.events ?? silent;
  const collected = collect(tree);
  const time = opts.mtime ?? tree.root.mtimeSec;
  const salt = JSON.stringify([opts.size ?? null, opts.headroom ?? null, opts.inodes ?? null, opts.label ?? '', opts.journal === true, time]);
  const id = makeIdentity(collected.summary, salt, opts.uuid, opts.label);
  const warn = (message: string): void => events({ type: 'warning', code: 'EXT4_XATTR_NAMESPACE', message });
  const { prepared, xattrBlocks } = prepareAll(collected.nodes, id.fsSeed, id.hashSeed, time, warn);
  let journal: Prepared | null = null;
  if (opts.journal) {
    // sized like mke2fs from the filesystem size (requested, or estimated from the content)
    const estimate = opts.size !== undefined ? Math.floor(opts.size / BLOCK_SIZE) : dataBlocksLowerBound(prepared, xattrBlocks) * (1 + (opts.headroom ?? 0.2));
    const jblocks = journalBlocksFor(estimate);
    journal = prepareJournal(jblocks, journalSuperblock(jblocks, id.uuid), time);
    prepared.unshift(journal); // allocated first: one contiguous run right after the metadata
  }
  const usedInodes = collected.nodes[collected.nodes.length - 1].ino;
  const { geom, alloc } = chooseSize(opts, usedInodes, prepared, xattrBlocks);
  const bytes = opts.size ?? geom.blocks * BLOCK_SIZE;

  const out = await ImageOutput.create(outPath, bytes, 'ext4 image', opts.mirror !== undefined ? { mirror: opts.mirror } : {});
  try {
    await writeData(out, prepared, id, events);
    const jnl = journal && journal.iBlock ? { iBlock: journal.iBlock, size: journal.size } : null;
    await writeMetadata(out, { geom, used: alloc.used, prepared, id, time, usedInodes, journal: jnl });
    await out.close();
  } catch (e) {
    await out.close().catch(() => undefined);
    throw e;
  }
  return { bytes, blocks: geom.blocks, inodes: geom.inodesPerGroup * geom.groups };
}

/** Streams every inode's blocks in allocation order (xattr block, data, extent tree). */
async function writeData(out: ImageOutput, prepared: Prepared[], id: Identity, events: ProgressListener): Promise<void> {
  const total = prepared.length;
  let done = 0;
  const written = new Set<object>();
  const sources = new ContentSources();
  try {
    for (const p of prepared) {
      const xb = p.xattrBlock;
      if (xb && !written.has(xb)) {
        written.add(xb);
        const blk = xb.data.slice();
        finishXattrBlock(blk, xb.refcount, xb.blockNr, id.fsSeed);
        await out.write(xb.blockNr * BLOCK_SIZE, blk);
      }
      const inode = p.node.inode;
      if (p.journalHead) {
        await out.write(p.extents[0].physical * BLOCK_SIZE, p.journalHead);
      } else if (p.blocks) {
        for (const e of p.extents) {
          for (let k = 0; k < e.len; k++) await out.write((e.physical + k) * BLOCK_SIZE, p.blocks[e.logical + k]);
        }
      } else if (inode?.kind === 'file' && p.extents.length > 0) {
        const c = inode.content;
        if (c.kind === 'file' && !c.sparse && c.length === inode.size) await copyFile(out, p, sources.get(c), c.offset);
        else await streamFile(out, p, readFile(inode));
      }
      if (p.extentMapped) {
        const tree = buildExtentTree(p.extents, p.treeBlocks, inodeSeed(id.fsSeed, p.node.ino));
        p.iBlock = tree.iBlock;
        for (const b of tree.blocks) await out.write(b.blockNr * BLOCK_SIZE, b.data);
      }
      if (++done % 1024 === 0 || done === total) events({ type: 'write-progress', phase: PHASE, done, total });
    }
  } finally {
    sources.close();
  }
}

/**
 * A file stored contiguously in a host file (no sparse map): each extent's
 * bytes are read straight into the output buffer; the tail of the last
 * block is zeroed.
 */
async function copyFile(out: ImageOutput, p: Prepared, src: SourceFile, offset: number): Promise<void> {
  for (const e of p.extents) {
    const from = e.logical * BLOCK_SIZE;
    const to = Math.min(p.size, (e.logical + e.len) * BLOCK_SIZE);
    if (to > from) await out.copyFrom(e.physical * BLOCK_SIZE, src, offset + from, to - from);
  }
  await zeroTail(out, p, p.size);
}

/** Zeros the tail of the last block after `pos` logical bytes, so the output stays one contiguous run. */
async function zeroTail(out: ImageOutput, p: Prepared, pos: number): Promise<void> {
  const last = p.extents[p.extents.length - 1];
  const end = (last.logical + last.len) * BLOCK_SIZE;
  if (pos < end && pos >= last.logical * BLOCK_SIZE) {
    await out.zero(last.physical * BLOCK_SIZE + (pos - last.logical * BLOCK_SIZE), end - pos);
  }
}

/** Copies a file's logical bytes into its extents; bytes in holes (unallocated blocks) are dropped. */
async function streamFile(out: ImageOutput, p: Prepared, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  const ext = p.extents;
  let ei = 0;
  let pos = 0;
  for await (const chunk of chunks) {
    let off = 0;
    while (off < chunk.length && ei < ext.length) {
      const at = pos + off;
      const e = ext[ei];
      const eStart = e.logical * BLOCK_SIZE;
      const eEnd = (e.logical + e.len) * BLOCK_SIZE;
      if (at >= eEnd) {
        ei++;
        continue;
      }
      if (at < eStart) {
        off += Math.min(chunk.length - off, eStart - at);
        continue;
      }
      const n = Math.min(chunk.length - off, eEnd - at);
      await out.write(e.physical * BLOCK_SIZE + (at - eStart), chunk.subarray(off, off + n));
      off += n;
    }
    pos += chunk.length;
  }
  await zeroTail(out, p, pos);
}
