/**
 * Serializes a laid-out EROFS image (see layout.ts) into an ImageSink:
 * optional composefs header, superblock, inodes with xattrs and inline
 * tails, shared xattrs, then data blocks in inode order.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { readContent } from '../../tree/content.js';
import {
  EROFS_BLKSIZ, EROFS_BLKSIZ_BITS, EROFS_SLOTSIZE, EROFS_SUPER_OFFSET, EROFS_SUPER_SIZE, EROFS_SUPER_MAGIC_V1,
  SB_MAGIC, SB_FEATURE_COMPAT, SB_BLKSZBITS, SB_ROOT_NID, SB_INOS, SB_BUILD_TIME, SB_BUILD_TIME_NSEC, SB_BLOCKS,
  SB_META_BLKADDR, SB_XATTR_BLKADDR, SB_FEATURE_INCOMPAT,
  EROFS_FEATURE_COMPAT_MTIME, EROFS_FEATURE_COMPAT_XATTR_FILTER,
  EROFS_I_VERSION_BIT, EROFS_I_DATALAYOUT_BIT, EROFS_INODE_COMPACT_SIZE, EROFS_INODE_EXTENDED_SIZE,
  EROFS_INODE_FLAT_PLAIN, EROFS_INODE_FLAT_INLINE, EROFS_INODE_CHUNK_BASED,
  IC_FORMAT, IC_XATTR_ICOUNT, IC_MODE, IC_NLINK, IC_SIZE, IC_U, IC_INO, IC_UID, IC_GID,
  IE_FORMAT, IE_XATTR_ICOUNT, IE_MODE, IE_SIZE, IE_U, IE_INO, IE_UID, IE_GID, IE_MTIME, IE_MTIME_NSEC, IE_NLINK,
  EROFS_DIRENT_SIZE, EROFS_FT_UNKNOWN, EROFS_FT_REG_FILE, EROFS_FT_DIR, EROFS_FT_CHRDEV, EROFS_FT_BLKDEV,
  EROFS_FT_FIFO, EROFS_FT_SOCK, EROFS_FT_SYMLINK,
  EROFS_XATTR_IBODY_HEADER_SIZE, EROFS_XATTR_ENTRY_SIZE, EROFS_XATTR_FILTER_BITS, EROFS_XATTR_FILTER_SEED,
  EROFS_XATTR_FILTER_DEFAULT, EROFS_NULL_ADDR, LCFS_MAX_NONINLINE_CHUNKS,
  LCFS_EROFS_MAGIC, LCFS_EROFS_VERSION, LCFS_EROFS_FLAGS_HAS_ACL,
  LCFS_HDR_MAGIC, LCFS_HDR_VERSION, LCFS_HDR_FLAGS, LCFS_HDR_COMPOSEFS_VERSION,
} from './constants.js';
import { xattrIndex, xattrEntrySize, type Layout } from './layout.js';
import type { FileInode } from '../../tree/types.js';
import type { EDirent, ENode, EXattr } from './model.js';
import type { ImageSink } from './sink.js';
import { xxh32 } from './xxhash32.js';
import { readRange } from './range.js';

const S_IFMT = 0o170000;
const FT: Record<number, number> = {
  0o100000: EROFS_FT_REG_FILE, 0o040000: EROFS_FT_DIR, 0o020000: EROFS_FT_CHRDEV, 0o060000: EROFS_FT_BLKDEV,
  0o010000: EROFS_FT_FIFO, 0o140000: EROFS_FT_SOCK, 0o120000: EROFS_FT_SYMLINK,
};

export interface SerializeOptions {
  /** Write the composefs header with this format version (else 1 KiB of zeros). */
  composefs?: { version: number; hasAcl: boolean };
  /** Extra feature_incompat bits (e.g. chunked files). */
  featureIncompat?: number;
}

function latin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Encodes one xattr entry at `at` (zeroed, xattrEntrySize bytes); returns its size. */
function putXattrEntry(b: Buffer, at: number, x: EXattr): number {
  const [index, suffix] = xattrIndex(x.key);
  b[at] = suffix.length;
  b[at + 1] = index;
  b.writeUInt16LE(x.value.length, at + 2);
  b.write(suffix, at + EROFS_XATTR_ENTRY_SIZE, 'latin1');
  x.value.copy(b, at + EROFS_XATTR_ENTRY_SIZE + suffix.length);
  return xattrEntrySize(x);
}

/** Bloom-filter bit of each xattr name (few distinct names, tens of thousands of inodes). */
const filterBits = new Map<string, number>();

function filterBit(key: string): number {
  let bit = filterBits.get(key);
  if (bit === undefined) {
    const [index, suffix] = xattrIndex(key);
    bit = 1 << (xxh32(latin1(suffix), (EROFS_XATTR_FILTER_SEED + index) >>> 0) & (EROFS_XATTR_FILTER_BITS - 1));
    filterBits.set(key, bit);
  }
  return bit;
}

/** The in-inode xattr area: header (name filter, shared count), shared references, then inline entries. */
function putXattrArea(sink: ImageSink, n: ENode, L: Layout): void {
  if (n.xattrSize === 0) return;
  const at = sink.reserve(n.xattrSize);
  const b = sink.buf;
  let filter = 0;
  let nShared = 0;
  let off = at + EROFS_XATTR_IBODY_HEADER_SIZE;
  for (const x of n.xattrs) {
    filter |= filterBit(x.key);
    if (x.sharedOffset < 0) continue;
    b.writeUInt32LE(((L.inodesEnd % EROFS_BLKSIZ) + x.sharedOffset) / 4, off);
    off += 4;
    nShared++;
  }
  b.writeUInt32LE((EROFS_XATTR_FILTER_DEFAULT & ~filter) >>> 0, at);
  b[at + 4] = nShared;
  for (const x of n.xattrs) if (x.sharedOffset < 0) off += putXattrEntry(b, off, x);
}

/**
 * Directory entries [from, to) as one block (or tail): dirents, then names;
 * padded to `align`.
 */
function putDirents(sink: ImageSink, entries: EDirent[], from: number, to: number, align: number): void {
  let nameoff = (to - from) * EROFS_DIRENT_SIZE;
  let total = nameoff;
  for (let i = from; i < to; i++) total += entries[i].name.length;
  const at = sink.reserve(Math.ceil(total / align) * align);
  const b = sink.buf;
  for (let i = from; i < to; i++) {
    const e = entries[i];
    const d = at + (i - from) * EROFS_DIRENT_SIZE;
    // u64 nid (< 2^53): two u32 halves, no BigInt per entry
    b.writeUInt32LE(e.target.nid % 0x100000000, d);
    b.writeUInt32LE(Math.floor(e.target.nid / 0x100000000), d + 4);
    b.writeUInt16LE(nameoff, d + 8);
    b[d + 10] = FT[e.target.mode & S_IFMT] ?? EROFS_FT_UNKNOWN;
    b.write(e.name, at + nameoff, 'latin1');
    nameoff += e.name.length;
  }
}

/**
 * Where a directory's entries split into on-disk blocks: the start index
 * of each full block, then the start of the inline tail (entries.length
 * when there is none).
 */
function direntSplits(n: ENode): number[] {
  const all = n.dirents ?? [];
  const starts: number[] = [0];
  let size = 0;
  for (let i = 0; i < all.length; i++) {
    const len = EROFS_DIRENT_SIZE + all[i].name.length;
    if (size + len > EROFS_BLKSIZ) {
      starts.push(i);
      size = 0;
    }
    size += len;
  }
  // the last group is a block of its own when the layout moved the tail out of the inode
  if (starts.length - 1 < n.nBlocks) starts.push(all.length);
  return starts;
}

function isChunked(n: ENode): boolean {
  return (n.mode & S_IFMT) === 0o100000 && n.size > 0 && (n.data.kind === 'null-chunks' || n.data.kind === 'sparse-chunks');
}

/** Writes a signed 64-bit little-endian integer (|v| < 2^53) as two 32-bit halves. */
function putI64(b: Buffer, v: number, at: number): void {
  const hi = Math.floor(v / 0x100000000);
  b.writeUInt32LE(v - hi * 0x100000000, at);
  b.writeInt32LE(hi, at + 4);
}

function putInodeHeader(sink: ImageSink, n: ENode, currentEnd: { v: number }): void {
  const type = n.mode & S_IFMT;
  const icount = n.xattrSize === 0 ? 0 : (n.xattrSize - EROFS_XATTR_IBODY_HEADER_SIZE) / 4 + 1;
  let layoutId = n.tailSize > 0 ? EROFS_INODE_FLAT_INLINE : EROFS_INODE_FLAT_PLAIN;
  let size = 0;
  let chunkFormat = -1;
  if (type === 0o040000) size = n.nBlocks * EROFS_BLKSIZ + n.tailSize;
  else if (type === 0o100000) {
    size = n.size;
    if (isChunked(n)) {
      layoutId = EROFS_INODE_CHUNK_BASED;
      chunkFormat = (n.data as { chunkBits: number }).chunkBits - EROFS_BLKSIZ_BITS;
    }
  } else if (type === 0o120000) size = n.nBlocks === 0 ? n.tailSize : n.size;
  const format = (layoutId << EROFS_I_DATALAYOUT_BIT) | ((n.compact ? 0 : 1) << EROFS_I_VERSION_BIT);
  let iu = 0;
  if (type === 0o020000 || type === 0o060000) iu = n.rdev >>> 0;
  else if ((type === 0o040000 || type === 0o100000 || type === 0o120000) && n.nBlocks > 0) {
    n.blkaddr = currentEnd.v / EROFS_BLKSIZ;
    iu = n.blkaddr;
    currentEnd.v += n.nBlocks * EROFS_BLKSIZ;
  }
  if (chunkFormat >= 0) {
    // i_u is a union: the chunk format overwrites the low 16 bits (what libcomposefs does too).
    iu = n.data.kind === 'sparse-chunks' ? chunkFormat : ((iu & 0xffff0000) | chunkFormat) >>> 0;
  }
  if (n.compact) {
    const at = sink.reserve(EROFS_INODE_COMPACT_SIZE);
    const b = sink.buf;
    b.writeUInt16LE(format, at + IC_FORMAT);
    b.writeUInt16LE(icount, at + IC_XATTR_ICOUNT);
    b.writeUInt16LE(n.mode & 0xffff, at + IC_MODE);
    b.writeUInt16LE(n.nlink, at + IC_NLINK);
    b.writeUInt32LE(size, at + IC_SIZE);
    b.writeUInt32LE(iu >>> 0, at + IC_U);
    b.writeUInt32LE(n.inodeNum, at + IC_INO);
    b.writeUInt16LE(n.uid, at + IC_UID);
    b.writeUInt16LE(n.gid, at + IC_GID);
    return;
  }
  const at = sink.reserve(EROFS_INODE_EXTENDED_SIZE);
  const b = sink.buf;
  b.writeUInt16LE(format, at + IE_FORMAT);
  b.writeUInt16LE(icount, at + IE_XATTR_ICOUNT);
  b.writeUInt16LE(n.mode & 0xffff, at + IE_MODE);
  putI64(b, size, at + IE_SIZE);
  b.writeUInt32LE(iu >>> 0, at + IE_U);
  b.writeUInt32LE(n.inodeNum, at + IE_INO);
  b.writeUInt32LE(n.uid, at + IE_UID);
  b.writeUInt32LE(n.gid, at + IE_GID);
  putI64(b, n.mtimeSec, at + IE_MTIME);
  b.writeUInt32LE(n.mtimeNsec, at + IE_MTIME_NSEC);
  b.writeUInt32LE(n.nlink, at + IE_NLINK);
}

/** `count` null chunk indexes (0xffffffff each). */
function putNullChunks(sink: ImageSink, count: number): void {
  const at = sink.reserve(count * 4);
  sink.buf.fill(0xff, at, at + count * 4);
}

/** Writes the inline tail that follows an inode; returns its length. Async only for streamed (plain EROFS) contents. */
function putInlineTail(sink: ImageSink, n: ENode): number | Promise<number> {
  const type = n.mode & S_IFMT;
  if (n.tailSize === 0) return 0;
  const start = sink.pos;
  if (type === 0o040000) {
    const splits = direntSplits(n);
    putDirents(sink, n.dirents ?? [], splits[splits.length - 1], (n.dirents ?? []).length, 1);
    return sink.pos - start;
  }
  if (type === 0o120000) {
    const t = n.target ?? '';
    const at = sink.reserve(t.length); // may replace sink.buf: read it after
    sink.buf.write(t, at, 'latin1');
    return t.length;
  }
  switch (n.data.kind) {
    case 'bytes': {
      const tail = n.data.data.subarray(n.size - n.tailSize);
      sink.write(tail);
      return tail.length;
    }
    case 'stream':
      return readRange(n.data.inode, n.size - n.tailSize, n.tailSize).then((tail) => {
        sink.write(tail);
        return tail.length;
      });
    case 'null-chunks':
      putNullChunks(sink, n.data.chunks);
      return n.data.chunks * 4;
    case 'sparse-chunks': {
      const at = sink.reserve(n.tailSize);
      const b = sink.buf;
      let addr = n.blkaddr;
      const chunkBlocks = 1 << (n.data.chunkBits - EROFS_BLKSIZ_BITS);
      n.data.present.forEach((p, i) => {
        b.writeUInt32LE(p ? addr : EROFS_NULL_ADDR, at + i * 4);
        if (p) addr += chunkBlocks;
      });
      return n.tailSize;
    }
    default:
      throw new Oci2fsError(ErrorCode.INTERNAL, 'inline tail on a file without data');
  }
}

async function writeData(sink: ImageSink, n: ENode): Promise<void> {
  const type = n.mode & S_IFMT;
  if (type === 0o040000) {
    const splits = direntSplits(n);
    for (let i = 0; i + 1 < splits.length; i++) putDirents(sink, n.dirents ?? [], splits[i], splits[i + 1], EROFS_BLKSIZ);
    return;
  }
  if (n.nBlocks === 0) return;
  if (type === 0o120000) {
    const t = n.target ?? '';
    const at = sink.reserve(t.length); // may replace sink.buf: read it after
    sink.buf.write(t, at, 'latin1');
    sink.align(EROFS_BLKSIZ);
    return;
  }
  const start = sink.pos;
  switch (n.data.kind) {
    case 'null-chunks':
      // libcomposefs fills the (unused) block with a full block of null chunk indexes.
      putNullChunks(sink, LCFS_MAX_NONINLINE_CHUNKS);
      break;
    case 'bytes':
      sink.write(n.data.data.subarray(0, Math.min(n.size, n.nBlocks * EROFS_BLKSIZ)));
      break;
    case 'stream': {
      const want = Math.min(n.size, n.nBlocks * EROFS_BLKSIZ);
      let got = 0;
      for await (const chunk of readContent(n.data.inode.content, n.size)) {
        const take = Math.min(chunk.length, want - got);
        sink.write(take === chunk.length ? chunk : chunk.subarray(0, take));
        got += take;
        await sink.drain();
        if (got >= want) break;
      }
      break;
    }
    case 'sparse-chunks': {
      const cs = 2 ** n.data.chunkBits;
      for (let i = 0; i < n.data.present.length; i++) {
        if (!n.data.present[i]) continue;
        const off = i * cs;
        const len = Math.min(cs, n.size - off);
        for await (const chunk of readRangeStream(n.data.inode, off, len)) {
          sink.write(chunk);
          await sink.drain();
        }
        sink.align(EROFS_BLKSIZ);
      }
      break;
    }
    default:
      break;
  }
  sink.align(EROFS_BLKSIZ);
  if (sink.pos - start !== n.nBlocks * EROFS_BLKSIZ) {
    throw new Oci2fsError(ErrorCode.INTERNAL, `EROFS data of inode ${n.inodeNum} is ${sink.pos - start} bytes, expected ${n.nBlocks} blocks`);
  }
}

async function* readRangeStream(inode: FileInode, off: number, len: number): AsyncGenerator<Uint8Array> {
  const step = 1 << 20;
  for (let p = 0; p < len; p += step) yield await readRange(inode, off + p, Math.min(step, len - p));
}

/** Writes the whole image. `nodes[0]` is the root. */
export async function serialize(sink: ImageSink, nodes: ENode[], L: Layout, opts: SerializeOptions): Promise<void> {
  const head = Buffer.alloc(EROFS_SUPER_OFFSET);
  if (opts.composefs) {
    head.writeUInt32LE(LCFS_EROFS_MAGIC, LCFS_HDR_MAGIC);
    head.writeUInt32LE(LCFS_EROFS_VERSION, LCFS_HDR_VERSION);
    head.writeUInt32LE(opts.composefs.hasAcl ? LCFS_EROFS_FLAGS_HAS_ACL : 0, LCFS_HDR_FLAGS);
    head.writeUInt32LE(opts.composefs.version, LCFS_HDR_COMPOSEFS_VERSION);
  }
  sink.write(head);
  const sb = Buffer.alloc(EROFS_SUPER_SIZE);
  sb.writeUInt32LE(EROFS_SUPER_MAGIC_V1, SB_MAGIC);
  sb.writeUInt32LE(EROFS_FEATURE_COMPAT_MTIME | EROFS_FEATURE_COMPAT_XATTR_FILTER, SB_FEATURE_COMPAT);
  sb[SB_BLKSZBITS] = EROFS_BLKSIZ_BITS;
  if (nodes[0].nid > 0xffff) throw new Oci2fsError(ErrorCode.INTERNAL, 'root nid does not fit 16 bits');
  sb.writeUInt16LE(nodes[0].nid, SB_ROOT_NID);
  sb.writeBigUInt64LE(BigInt(nodes.length), SB_INOS);
  sb.writeBigInt64LE(BigInt(L.minMtimeSec), SB_BUILD_TIME);
  sb.writeUInt32LE(L.minMtimeNsec, SB_BUILD_TIME_NSEC);
  const blocks = L.dataStart / EROFS_BLKSIZ + L.nDataBlocks;
  if (blocks > 0xffffffff) throw new Oci2fsError(ErrorCode.NO_SPACE, `EROFS image would need ${blocks} blocks, more than 2^32`);
  sb.writeUInt32LE(blocks, SB_BLOCKS);
  sb.writeUInt32LE(Math.floor((EROFS_SUPER_OFFSET + EROFS_SUPER_SIZE) / EROFS_BLKSIZ), SB_META_BLKADDR);
  sb.writeUInt32LE(Math.floor(L.inodesEnd / EROFS_BLKSIZ), SB_XATTR_BLKADDR);
  sb.writeUInt32LE(opts.featureIncompat ?? 0, SB_FEATURE_INCOMPAT);
  sink.write(sb);

  const currentEnd = { v: L.dataStart };
  for (const n of nodes) {
    sink.pad(n.ipad);
    if (sink.pos % EROFS_SLOTSIZE !== 0) throw new Oci2fsError(ErrorCode.INTERNAL, 'inode not slot aligned');
    putInodeHeader(sink, n, currentEnd);
    putXattrArea(sink, n, L);
    let tail = putInlineTail(sink, n);
    if (typeof tail !== 'number') tail = await tail;
    if (tail !== n.tailSize) throw new Oci2fsError(ErrorCode.INTERNAL, `inline tail of inode ${n.inodeNum} is ${tail} bytes, expected ${n.tailSize}`);
    if (sink.full) await sink.drain();
  }
  sink.align(EROFS_SLOTSIZE);
  if (sink.pos !== L.inodesEnd) throw new Oci2fsError(ErrorCode.INTERNAL, `inode area ends at ${sink.pos}, expected ${L.inodesEnd}`);
  for (const x of L.shared.list) {
    const at = sink.reserve(xattrEntrySize(x)); // may replace sink.buf: read it after
    putXattrEntry(sink.buf, at, x);
  }
  sink.align(EROFS_BLKSIZ);
  if (sink.pos !== L.dataStart) throw new Oci2fsError(ErrorCode.INTERNAL, `data starts at ${sink.pos}, expected ${L.dataStart}`);
  for (const n of nodes) {
    await writeData(sink, n);
    if (sink.full) await sink.drain();
  }
  if (sink.pos !== currentEnd.v) throw new Oci2fsError(ErrorCode.INTERNAL, `image ends at ${sink.pos}, expected ${currentEnd.v}`);
}
