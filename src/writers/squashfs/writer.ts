/**
 * `writeSquashfs`: a ValidatedTree → a squashfs 4.0 image that the Linux
 * kernel, squashfs-tools (unsquashfs), squashfuse and squashfs-tools-ng
 * read. Layout (same order as mksquashfs):
 *
 *   superblock | compressor options | data + fragment blocks | inode table |
 *   directory table | fragment table | export table | id table | xattr table |
 *   zero padding to 4 KiB
 *
 * See docs/squashfs.md for the rules and choices.
 */
import { availableParallelism } from 'node:os';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { silent, type ProgressListener } from '../../events.js';
import { walk, type Inode, type ValidatedTree } from '../../tree/types.js';
import { compressorId, compressorOptions, createBlockCompressor, resolveCompressor } from '../compressors/index.js';
import { CompressPool } from '../compressors/pool.js';
import {
  DEFAULT_BLOCK_SIZE, EXPORT_ENTRY_SIZE, FLAG, FRAGMENT_ENTRY_SIZE, ID_ENTRY_SIZE, IMAGE_PAD, MAX_BLOCK_SIZE,
  MAX_IDS, METADATA_UNCOMPRESSED, MIN_BLOCK_SIZE, SUPERBLOCK_SIZE,
} from './constants.js';
import { DataWriter, type FileData } from './data.js';
import { Bytes } from './bytes.js';
import { ImageOutput } from '../output.js';
import { cpuClockMs } from '../../util/thread-cpu.js';
import { encodeLookupTable } from './metadata.js';
import { planInodes } from './order.js';
import { encodeSuperblock } from './superblock.js';
import { buildTables } from './tables.js';

/** Options of `writeSquashfs`. */
export interface SquashfsOptions {
  /** Also write every byte to this file (see OutputOptions.mirror). */
  mirror?: string;
  /** Block compressor; default gzip. 'none' stores everything uncompressed. */
  compressor?: 'gzip' | 'zstd' | 'lz4' | 'none';
  /** gzip 1-9 (default 9) or zstd 1-22 (default 15). */
  level?: number;
  /** lz4 only: high-compression mode. */
  lz4hc?: boolean;
  /** Power of two, 4 KiB..1 MiB; default 128 KiB. */
  blockSize?: number;
  /** Parallel compression workers; default os.availableParallelism(). Output does not depend on it. */
  jobs?: number;
  /** Superblock mkfs time (seconds); default 0. */
  mtime?: number;
  /** Write the NFS export table (inode number → inode); default true. */
  exportTable?: boolean;
  events?: ProgressListener;
}

/** Blocks in flight per compression worker. */
const BLOCKS_PER_JOB = 4;
/** Emit a data progress event at most every this many bytes. */
const PROGRESS_STEP = 32 << 20;

function usage(msg: string): never {
  throw new Oci2fsError(ErrorCode.USAGE, msg);
}

/** Distinct uids/gids in ascending order, checked against the id table limit. */
function collectIds(tree: ValidatedTree): Map<number, number> {
  const ids = new Set<number>();
  walk(tree.root, (_p, x) => { ids.add(x.uid); ids.add(x.gid); });
  if (ids.size > MAX_IDS) {
    throw new Oci2fsError(ErrorCode.LIMIT, `The tree uses ${ids.size} distinct uids/gids; squashfs can store at most ${MAX_IDS}. Remap ownership first.`);
  }
  return new Map([...ids].sort((a, b) => a - b).map((id, i) => [id, i]));
}

/**
 * Writes `tree` as a squashfs image to `outPath` (created or truncated).
 * Same tree + options → same bytes, whatever `jobs` is.
 */
export async function writeSquashfs(
  tree: ValidatedTree, outPath: string, opts: SquashfsOptions = {},
): Promise<{ bytes: number; inodes: number }> {
  const spec = resolveCompressor(opts.compressor ?? 'gzip', opts.level, opts.lz4hc ?? false);
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || (blockSize & (blockSize - 1)) !== 0) {
    usage(`Invalid squashfs block size ${blockSize}: use a power of two from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}`);
  }
  const jobs = opts.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1) usage(`Invalid number of compression jobs ${jobs}: use 1 or more`);
  const mkfsTime = opts.mtime ?? 0;
  if (!Number.isInteger(mkfsTime) || mkfsTime < 0 || mkfsTime > 0xffffffff) usage(`Invalid squashfs mkfs time ${mkfsTime}: use 0..4294967295 seconds`);
  const exportTable = opts.exportTable ?? true;
  const events = opts.events ?? silent;
  const uncompressed = spec.name === 'none';
  const blockCompress = createBlockCompressor(spec);
  let metadataMs = 0;
  const compress: typeof blockCompress = (data) => {
    const started = cpuClockMs();
    try {
      return blockCompress(data);
    } finally {
      metadataMs += cpuClockMs() - started;
    }
  };

  const idIndex = collectIds(tree);
  const plan = planInodes(tree.root);
  const totalBytes = plan.files.reduce((n, f) => n + f.size, 0);

  // dense (every byte written: a rewound duplicate's blocks are overwritten, never skipped as zeros)
  const out = await ImageOutput.create(outPath, 0, 'squashfs image', { sparse: false, ...(opts.mirror !== undefined ? { mirror: opts.mirror } : {}) });
  let closed = false;
  const pool = new CompressPool(spec, jobs);
  let data: DataWriter | null = null;
  try {
    // Compressor options: an uncompressed metadata block right after the superblock.
    const options = compressorOptions(spec);
    let pos = SUPERBLOCK_SIZE;
    if (options) {
      const block = new Bytes().u16(options.length | METADATA_UNCOMPRESSED).raw(options).bytes();
      await out.write(pos, block);
      pos += block.length;
    }

    // Data area.
    data = new DataWriter(out, pos, pool, blockSize, Math.max(1, jobs) * BLOCKS_PER_JOB, plan.files);
    const fileData = new Map<Inode, FileData>();
    let lastReport = 0;
    for (let i = 0; i < plan.files.length; i++) {
      const f = plan.files[i];
      fileData.set(f, await data.addFile(f));
      if (data.bytesRead - lastReport >= PROGRESS_STEP) {
        lastReport = data.bytesRead;
        events({ type: 'write-progress', phase: 'squashfs-data', done: data.bytesRead, total: totalBytes });
      }
    }
    pos = await data.finish();
    events({ type: 'write-progress', phase: 'squashfs-data', done: data.bytesRead, total: totalBytes });

    // Metadata.
    const skipped = new Set<string>();
    const t = buildTables({
      root: tree.root, plan, fileData, idIndex, compress,
      skippedXattr: (name) => {
        if (skipped.has(name)) return;
        skipped.add(name);
        events({ type: 'warning', code: 'SQUASHFS_XATTR_SKIPPED', message: `squashfs cannot store xattr ${JSON.stringify(name)} (only user., trusted. and security.); it was left out` });
      },
    });
    if (t.clampedMtimes > 0) {
      events({ type: 'warning', code: 'SQUASHFS_MTIME_CLAMPED', message: `${t.clampedMtimes} inode mtimes outside 1970..2106 were clamped (squashfs stores unsigned 32-bit seconds)` });
    }
    const parts: Uint8Array[] = [];
    const place = (b: Uint8Array): number => {
      const at = pos;
      parts.push(b);
      pos += b.length;
      return at;
    };
    const inodeTableStart = place(t.inodeTable);
    const directoryTableStart = place(t.directoryTable);

    const frags = Buffer.alloc(data.fragments.length * FRAGMENT_ENTRY_SIZE);
    data.fragments.forEach((f, i) => {
      const o = i * FRAGMENT_ENTRY_SIZE;
      frags.writeUInt32LE(f.start % 0x100000000, o);
      frags.writeUInt32LE(Math.floor(f.start / 0x100000000), o + 4);
      frags.writeUInt32LE(f.size, o + 8);
    });
    const fragTable = encodeLookupTable(frags, pos, compress);
    const fragmentTableStart = place(fragTable.bytes) + fragTable.indexOffset;

    let lookupTableStart: number | null = null;
    if (exportTable) {
      const refs = new Bytes(t.exportRefs.length * EXPORT_ENTRY_SIZE);
      for (const r of t.exportRefs) refs.u64(r);
      const lt = encodeLookupTable(refs.bytes(), pos, compress);
      lookupTableStart = place(lt.bytes) + lt.indexOffset;
    }

    const idBytes = Buffer.alloc(idIndex.size * ID_ENTRY_SIZE);
    for (const [id, i] of idIndex) idBytes.writeUInt32LE(id, i * ID_ENTRY_SIZE);
    const idTable = encodeLookupTable(idBytes, pos, compress);
    const idTableStart = place(idTable.bytes) + idTable.indexOffset;

    let xattrIdTableStart: number | null = null;
    if (t.xattrs.size > 0) {
      const x = t.xattrs.encode(pos);
      place(x.bytes);
      xattrIdTableStart = x.tableStart;
    }
    const bytesUsed = pos;
    const padded = Math.ceil(bytesUsed / IMAGE_PAD) * IMAGE_PAD;
    if (padded > bytesUsed) place(Buffer.alloc(padded - bytesUsed));

    let flags = FLAG.DUPLICATES | FLAG.ALWAYS_FRAGMENTS;
    if (exportTable) flags |= FLAG.EXPORTABLE;
    if (options) flags |= FLAG.COMPRESSOR_OPTIONS;
    if (uncompressed) {
      flags |= FLAG.UNCOMPRESSED_INODES | FLAG.UNCOMPRESSED_DATA | FLAG.UNCOMPRESSED_FRAGMENTS | FLAG.UNCOMPRESSED_XATTRS | FLAG.UNCOMPRESSED_IDS;
    }
    const sb = encodeSuperblock({
      inodes: plan.order.length, mkfsTime, blockSize, fragments: data.fragments.length, compressor: compressorId(spec),
      flags, ids: idIndex.size, rootInode: t.rootRef, bytesUsed, idTableStart, xattrIdTableStart,
      inodeTableStart, directoryTableStart, fragmentTableStart, lookupTableStart,
    });
    let at = inodeTableStart;
    for (const part of parts) {
      await out.write(at, part);
      at += part.length;
    }
    await out.write(0, sb);
    // A deduplicated last file may have left bytes past the end: cut them.
    closed = true;
    await out.close(padded);
    // CPU time of compression (data on the workers, tables here), so callers can tell the rest apart.
    events({ type: 'stat', name: 'compress-seconds', value: (pool.compressMs + metadataMs) / 1000 });
    return { bytes: padded, inodes: plan.order.length };
  } catch (e) {
    await data?.abandon();
    throw e instanceof Oci2fsError ? e : new Oci2fsError(ErrorCode.IO, `Writing squashfs image ${outPath} failed: ${String((e as Error)?.message ?? e)}`, { cause: e });
  } finally {
    await pool.close();
    if (!closed) await out.close().catch(() => undefined);
  }
}
