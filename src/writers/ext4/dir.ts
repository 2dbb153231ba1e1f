/**
 * Directory blocks (Documentation/filesystems/ext4/directory.rst): linear
 * blocks of ext4_dir_entry_2 records each closed by a 12-byte checksum tail,
 * or — when the entries need more than one block — a hashed b-tree
 * (htree/dir_index): a dx_root block (fake "." and ".." + index), optional
 * interior index blocks, and leaf blocks sorted by name hash. Pure.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import {
  BLOCK_SIZE,
  DIRENT_HEADER,
  DIRENT_TAIL_FT,
  DIRENT_TAIL_SIZE,
  DX_HASH_HALF_MD4,
  DX_MAX_INDIRECT_LEVELS,
  DX_NODE_COUNT_OFFSET,
  DX_ROOT_COUNT_OFFSET,
  DX_ROOT_INFO_OFFSET,
  DX_TAIL_SIZE,
  FT_DIR,
} from './constants.js';
import { crc32cRaw } from './crc32c.js';
import { halfMd4Hash } from './dirhash.js';

/** One directory entry to store. */
export interface DirEntryIn {
  name: Uint8Array;
  ino: number;
  type: number;
}

/** Space for records in a leaf block (the checksum tail takes the last 12 bytes). */
const LEAF_SPACE = BLOCK_SIZE - DIRENT_TAIL_SIZE;
/** dx_entry: hash u32, block u32. */
const DX_ENTRY_SIZE = 8;
/** Index entries per root / interior block with a dx_tail. */
export const DX_ROOT_LIMIT = (BLOCK_SIZE - DX_ROOT_COUNT_OFFSET - DX_TAIL_SIZE) / DX_ENTRY_SIZE;
export const DX_NODE_LIMIT = (BLOCK_SIZE - DX_NODE_COUNT_OFFSET - DX_TAIL_SIZE) / DX_ENTRY_SIZE;
/** dx_root_info.info_length. */
const DX_ROOT_INFO_LENGTH = 8;

/** Minimal record length for a name of `n` bytes (EXT4_DIR_REC_LEN). */
export const recLen = (n: number): number => (DIRENT_HEADER + n + 3) & ~3;

function putEntry(dv: DataView, buf: Uint8Array, off: number, e: DirEntryIn, rec: number): void {
  dv.setUint32(off, e.ino, true);
  dv.setUint16(off + 4, rec, true);
  buf[off + 6] = e.name.length;
  buf[off + 7] = e.type;
  buf.set(e.name, off + DIRENT_HEADER);
}

/** Writes the 12-byte dirent tail with the leaf checksum. */
function sealLeaf(buf: Uint8Array, inodeSeed: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const t = LEAF_SPACE;
  dv.setUint32(t, 0, true); // det_reserved_zero1 (looks like inode 0)
  dv.setUint16(t + 4, DIRENT_TAIL_SIZE, true);
  buf[t + 6] = 0;
  buf[t + 7] = DIRENT_TAIL_FT;
  dv.setUint32(t + 8, crc32cRaw(inodeSeed, buf, 0, LEAF_SPACE), true);
}

/** Packs entries into leaf blocks in the given order; returns blocks and the entries each holds. */
function packLeaves(first: DirEntryIn[], entries: DirEntryIn[], inodeSeed: number): { blocks: Uint8Array[]; groups: number[][] } {
  const blocks: Uint8Array[] = [];
  const groups: number[][] = [];
  let buf = new Uint8Array(BLOCK_SIZE);
  let dv = new DataView(buf.buffer);
  let used = 0;
  let lastOff = -1;
  let lastEntry: DirEntryIn | null = null;
  let group: number[] = [];
  const close = (): void => {
    if (lastEntry) putEntry(dv, buf, lastOff, lastEntry, LEAF_SPACE - lastOff);
    else dv.setUint16(4, LEAF_SPACE, true); // empty block: one unused record spanning it
    sealLeaf(buf, inodeSeed);
    blocks.push(buf);
    groups.push(group);
  };
  const all = [...first, ...entries];
  all.forEach((e, i) => {
    const need = recLen(e.name.length);
    if (used + need > LEAF_SPACE) {
      close();
      buf = new Uint8Array(BLOCK_SIZE);
      dv = new DataView(buf.buffer);
      used = 0;
      lastEntry = null;
      group = [];
    }
    putEntry(dv, buf, used, e, need);
    lastOff = used;
    lastEntry = e;
    used += need;
    if (i >= first.length) group.push(i - first.length);
  });
  close();
  return { blocks, groups };
}

/** Appends an empty leaf block (used to pre-size lost+found like mke2fs). */
export function emptyLeaf(inodeSeed: number): Uint8Array {
  const buf = new Uint8Array(BLOCK_SIZE);
  new DataView(buf.buffer).setUint16(4, LEAF_SPACE, true);
  sealLeaf(buf, inodeSeed);
  return buf;
}

/** The blocks of a directory, in logical order, and whether it is hash-indexed. */
export interface DirBlocks {
  blocks: Uint8Array[];
  indexed: boolean;
}

function dots(self: number, parent: number): DirEntryIn[] {
  return [
    { name: Uint8Array.of(0x2e), ino: self, type: FT_DIR },
    { name: Uint8Array.of(0x2e, 0x2e), ino: parent, type: FT_DIR },
  ];
}

/** Writes dx count/limit + entries (entry 0's hash is the count/limit slot) and the dx_tail checksum. */
function putIndex(buf: Uint8Array, countOff: number, limit: number, items: { hash: number; block: number }[], inodeSeed: number): void {
  const dv = new DataView(buf.buffer);
  dv.setUint16(countOff, limit, true);
  dv.setUint16(countOff + 2, items.length, true);
  items.forEach((it, i) => {
    const o = countOff + i * DX_ENTRY_SIZE;
    if (i > 0) dv.setUint32(o, it.hash, true);
    dv.setUint32(o + 4, it.block, true);
  });
  const tail = countOff + limit * DX_ENTRY_SIZE;
  const size = countOff + items.length * DX_ENTRY_SIZE;
  let crc = crc32cRaw(inodeSeed, buf, 0, size);
  dv.setUint32(tail + 4, 0, true);
  crc = crc32cRaw(crc, buf, tail, tail + DX_TAIL_SIZE); // the whole dx_tail with dt_checksum = 0
  dv.setUint32(tail + 4, crc, true);
}

/**
 * Builds a directory. `entries` must be sorted by name bytes (linear
 * directories keep that order). More than one block of entries → htree
 * keyed by half_md4 with `hashSeed`, unless `allowIndex` is false.
 */
export function buildDir(
  self: number,
  parent: number,
  entries: DirEntryIn[],
  hashSeed: readonly number[],
  inodeSeed: number,
  allowIndex: boolean,
): DirBlocks {
  let total = recLen(1) + recLen(2);
  for (const e of entries) total += recLen(e.name.length);
  if (total <= LEAF_SPACE || !allowIndex) {
    return { blocks: packLeaves(dots(self, parent), entries, inodeSeed).blocks, indexed: false };
  }
  const hashed = entries.map((e) => ({ e, h: halfMd4Hash(e.name, hashSeed) }));
  hashed.sort((a, b) => a.h.hash - b.h.hash || a.h.minor - b.h.minor || Buffer.compare(a.e.name, b.e.name));
  const leaves = packLeaves([], hashed.map((x) => x.e), inodeSeed);
  // index key of each leaf: its first hash, with the low "collision" bit when the previous leaf ends in the same hash
  const keys = leaves.groups.map((g, i) => {
    const h = hashed[g[0]].h.hash;
    if (i > 0) {
      const prev = leaves.groups[i - 1];
      if (hashed[prev[prev.length - 1]].h.hash === h) return (h | 1) >>> 0;
    }
    return h;
  });
  const nLeaves = leaves.blocks.length;
  const levels = nLeaves <= DX_ROOT_LIMIT ? 0 : 1;
  const nNodes = levels === 0 ? 0 : Math.ceil(nLeaves / DX_NODE_LIMIT);
  if (nNodes > DX_ROOT_LIMIT || levels > DX_MAX_INDIRECT_LEVELS) {
    throw new Oci2fsError(ErrorCode.LIMIT, `directory ${self} has ${entries.length} entries, more than an ext4 htree without largedir holds`);
  }
  const firstLeaf = 1 + nNodes;
  const root = new Uint8Array(BLOCK_SIZE);
  const rdv = new DataView(root.buffer);
  const [dot, dotdot] = dots(self, parent);
  putEntry(rdv, root, 0, dot, recLen(1));
  putEntry(rdv, root, recLen(1), dotdot, BLOCK_SIZE - recLen(1));
  rdv.setUint32(DX_ROOT_INFO_OFFSET, 0, true);
  root[DX_ROOT_INFO_OFFSET + 4] = DX_HASH_HALF_MD4;
  root[DX_ROOT_INFO_OFFSET + 5] = DX_ROOT_INFO_LENGTH;
  root[DX_ROOT_INFO_OFFSET + 6] = levels;
  const leafItems = keys.map((hash, i) => ({ hash, block: firstLeaf + i }));
  const blocks: Uint8Array[] = [root];
  if (levels === 0) {
    putIndex(root, DX_ROOT_COUNT_OFFSET, DX_ROOT_LIMIT, leafItems, inodeSeed);
  } else {
    const rootItems: { hash: number; block: number }[] = [];
    for (let n = 0; n < nNodes; n++) {
      const items = leafItems.slice(n * DX_NODE_LIMIT, (n + 1) * DX_NODE_LIMIT);
      const node = new Uint8Array(BLOCK_SIZE);
      new DataView(node.buffer).setUint16(4, BLOCK_SIZE, true); // fake empty dirent spanning the block
      putIndex(node, DX_NODE_COUNT_OFFSET, DX_NODE_LIMIT, items, inodeSeed);
      blocks.push(node);
      rootItems.push({ hash: items[0].hash, block: 1 + n });
    }
    putIndex(root, DX_ROOT_COUNT_OFFSET, DX_ROOT_LIMIT, rootItems, inodeSeed);
  }
  blocks.push(...leaves.blocks);
  return { blocks, indexed: true };
}
