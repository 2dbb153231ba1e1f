/**
 * Directory listings in the directory table (squashfs_fs.h struct
 * squashfs_dir_header / squashfs_dir_entry) and the directory index of
 * extended directory inodes (struct squashfs_dir_index).
 *
 * Rules we follow:
 * - entries are sorted by byte order of names (the kernel's lookup stops at
 *   the first entry whose name sorts after the one searched);
 * - a header covers at most 256 entries, all with inodes in the same inode
 *   metadata block and inode numbers within -32768..32767 of its base;
 * - a new header starts when the listing crosses into a new metadata block,
 *   and each such header gets an index entry, so the kernel can jump straight
 *   to the right block of a large directory.
 */
import { Bytes } from './bytes.js';
import {
  DIR_DELTA_MAX, DIR_DELTA_MIN, DIR_ENTRY_SIZE, DIR_HEADER_SIZE, DIR_MAX_ENTRIES_PER_HEADER, METADATA_SIZE,
} from './constants.js';
import type { DirIndexEntry } from './inodes.js';
import type { MetadataWriter } from './metadata.js';

/** One directory entry to write. */
export interface ListingEntry {
  /** Byte string, 1..255 bytes. */
  name: string;
  /** Inode-table-relative start of the metadata block holding the inode. */
  inodeBlock: number;
  /** Offset of the inode inside that (uncompressed) block. */
  inodeOffset: number;
  inodeNumber: number;
  /** Basic inode type (1..7), also for extended inodes. */
  type: number;
}

/** Where a listing was written. */
export interface ListingLocation {
  /** Directory-table-relative start of the metadata block where the listing starts. */
  startBlock: number;
  /** Offset of the listing in that block. */
  offset: number;
  /** Listing size in bytes (the inode stores this + 3). */
  size: number;
  /** Index entries (empty when the listing stays inside one metadata block). */
  index: DirIndexEntry[];
}

interface Run {
  /** Uncompressed stream offset of the header. */
  at: number;
  entries: ListingEntry[];
}

/** Writes the listing of one directory (entries already sorted) to the directory table. */
export function writeListing(mw: MetadataWriter, entries: ListingEntry[]): ListingLocation {
  const startRef = mw.position();
  const startU = mw.uncompressedPosition();
  const runs: Run[] = [];
  let pos = startU;
  let run: Run | null = null;
  for (const e of entries) {
    const delta = run ? e.inodeNumber - run.entries[0].inodeNumber : 0;
    const newRun =
      run === null ||
      run.entries.length === DIR_MAX_ENTRIES_PER_HEADER ||
      e.inodeBlock !== run.entries[0].inodeBlock ||
      delta < DIR_DELTA_MIN ||
      delta > DIR_DELTA_MAX ||
      Math.floor(pos / METADATA_SIZE) !== Math.floor(run.at / METADATA_SIZE);
    if (newRun) {
      run = { at: pos, entries: [] };
      runs.push(run);
      pos += DIR_HEADER_SIZE;
    }
    run!.entries.push(e);
    pos += DIR_ENTRY_SIZE + e.name.length;
  }
  const b = new Bytes(pos - startU);
  for (const r of runs) {
    const base = r.entries[0];
    b.u32(r.entries.length - 1).u32(base.inodeBlock).u32(base.inodeNumber);
    for (const e of r.entries) {
      b.u16(e.inodeOffset).i16(e.inodeNumber - base.inodeNumber).u16(e.type).u16(e.name.length - 1).raw(e.name);
    }
  }
  mw.write(b.bytes());
  const index: DirIndexEntry[] = [];
  for (let i = 1; i < runs.length; i++) {
    const r = runs[i];
    if (Math.floor(r.at / METADATA_SIZE) === Math.floor(runs[i - 1].at / METADATA_SIZE)) continue;
    index.push({ index: r.at - startU, startBlock: mw.blockStartOf(r.at), name: r.entries[0].name });
  }
  return { startBlock: startRef.block, offset: startRef.offset, size: pos - startU, index };
}
