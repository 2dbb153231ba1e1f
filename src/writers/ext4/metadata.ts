/**
 * The metadata written after the data: inode tables (only the blocks that
 * hold used inodes; the rest stay holes = zeroed), inode and block bitmaps,
 * group descriptors, and the primary + backup superblocks.
 */
import { BLOCKS_PER_GROUP, BLOCK_SIZE, BG_INODE_ZEROED, FIRST_INO, INODE_FL_EXTENTS, INODE_FL_INDEX, INODE_SIZE, I_BLOCK_SIZE, ROOT_INO, SUPERBLOCK_OFFSET, DESC_SIZE } from './constants.js';
import { S_IFDIR, S_IFMT } from '../../tree/types.js';
import type { Geometry } from './geometry.js';
import { groupHasSuper } from './geometry.js';
import type { Identity } from './identity.js';
import { encodeInode, encodeReservedInode } from './inode.js';
import type { ImageOutput } from '../output.js';
import type { Prepared } from './prepare.js';
import { bitmapCsum, encodeGroupDesc, encodeSuperblock, type GroupFields } from './superblock.js';

/** 512-byte sectors per block, for i_blocks. */
const SECTORS_PER_BLOCK = BLOCK_SIZE / 512;

export interface MetadataInput {
  geom: Geometry;
  used: Uint8Array;
  prepared: Prepared[];
  id: Identity;
  time: number;
  /** Highest inode number in use (all of 1..usedInodes are in use). */
  usedInodes: number;
  /** Journal inode's i_block and size for the superblock backup, when there is a journal. */
  journal: { iBlock: Uint8Array; size: number } | null;
}

/** Counts zero bits in bytes [from, to) of a bitmap. */
function countFree(map: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    let v = ~map[i] & 0xff;
    while (v) {
      v &= v - 1;
      n++;
    }
  }
  return n;
}

export async function writeMetadata(out: ImageOutput, m: MetadataInput): Promise<void> {
  const { geom, used, prepared, id } = m;
  const ipg = geom.inodesPerGroup;
  // inode tables: records 1..usedInodes
  const table = new Uint8Array(Math.ceil((m.usedInodes * INODE_SIZE) / BLOCK_SIZE) * BLOCK_SIZE);
  for (let ino = 1; ino < FIRST_INO; ino++) if (ino !== ROOT_INO) encodeReservedInode(ino, id.fsSeed, table, (ino - 1) * INODE_SIZE);
  const dirsPerGroup = new Array<number>(geom.groups).fill(0);
  for (const p of prepared) {
    const ino = p.node.ino;
    const isDir = (p.mode & S_IFMT) === S_IFDIR;
    if (isDir) dirsPerGroup[Math.floor((ino - 1) / ipg)]++;
    const dataBlocks = p.extents.reduce((s, e) => s + e.len, 0) + p.treeBlocks.length + (p.xattrBlock ? 1 : 0);
    encodeInode(
      {
        mode: p.mode,
        uid: p.uid,
        gid: p.gid,
        size: p.size,
        links: p.links,
        sectors: dataBlocks * SECTORS_PER_BLOCK,
        flags: (p.extentMapped ? INODE_FL_EXTENTS : 0) | (p.indexed ? INODE_FL_INDEX : 0),
        iBlock: p.iBlock ?? new Uint8Array(I_BLOCK_SIZE),
        xattrBlock: p.xattrBlock ? p.xattrBlock.blockNr : 0,
        time: p.time,
        xattrArea: p.xattrArea,
      },
      ino,
      id.fsSeed,
      table,
      (ino - 1) * INODE_SIZE,
    );
  }
  for (let g = 0; g * ipg < m.usedInodes; g++) {
    const part = table.subarray(g * ipg * INODE_SIZE, Math.min(table.length, (g + 1) * ipg * INODE_SIZE));
    await out.write(geom.inodeTable[g] * BLOCK_SIZE, part);
  }
  // bitmaps and descriptors
  const gdt = new Uint8Array(geom.gdtBlocks * BLOCK_SIZE);
  let freeBlocks = 0;
  let freeInodes = 0;
  for (let g = 0; g < geom.groups; g++) {
    const bmap = used.subarray(g * BLOCK_SIZE, (g + 1) * BLOCK_SIZE);
    const imap = new Uint8Array(BLOCK_SIZE);
    const inGroup = Math.max(0, Math.min(ipg, m.usedInodes - g * ipg));
    for (let i = 0; i < inGroup; i++) imap[i >>> 3] |= 1 << (i & 7);
    imap.fill(0xff, ipg / 8); // bits past s_inodes_per_group read as in use
    const gFreeBlocks = countFree(bmap, 0, BLOCK_SIZE);
    const gFreeInodes = ipg - inGroup;
    freeBlocks += gFreeBlocks;
    freeInodes += gFreeInodes;
    const fields: GroupFields = {
      blockBitmap: geom.blockBitmap[g],
      inodeBitmap: geom.inodeBitmap[g],
      inodeTable: geom.inodeTable[g],
      freeBlocks: gFreeBlocks,
      freeInodes: gFreeInodes,
      usedDirs: dirsPerGroup[g],
      flags: BG_INODE_ZEROED,
      itableUnused: ipg - inGroup,
      blockBitmapCsum: bitmapCsum(id.fsSeed, bmap, BLOCKS_PER_GROUP / 8),
      inodeBitmapCsum: bitmapCsum(id.fsSeed, imap, ipg / 8),
    };
    encodeGroupDesc(fields, g, id.fsSeed, gdt, g * DESC_SIZE);
    await out.write(geom.blockBitmap[g] * BLOCK_SIZE, bmap);
    await out.write(geom.inodeBitmap[g] * BLOCK_SIZE, imap);
  }
  const sbFields = {
    inodesCount: ipg * geom.groups,
    blocksCount: geom.blocks,
    freeBlocks,
    freeInodes,
    inodesPerGroup: ipg,
    time: m.time,
    uuid: id.uuid,
    label: id.label,
    hashSeed: id.hashSeed,
    journal: m.journal,
  };
  for (let g = 0; g < geom.groups; g++) {
    if (!groupHasSuper(g)) continue;
    const base = g * BLOCKS_PER_GROUP * BLOCK_SIZE;
    await out.write(g === 0 ? SUPERBLOCK_OFFSET : base, encodeSuperblock(sbFields, g));
    await out.write(base + BLOCK_SIZE, gdt);
  }
}
