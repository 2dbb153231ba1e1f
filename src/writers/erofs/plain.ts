/**
 * Plain EROFS images: self-contained, uncompressed, data inside. Same
 * layout engine as composefs (docs/composefs.md), without the overlay
 * metadata: file data in blocks with inline tails (FLAT_PLAIN/FLAT_INLINE),
 * sparse files as chunk-based inodes whose holes are null chunks.
 * See docs/erofs.md.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { makedev, stMode, type FileInode, type Inode, type ValidatedTree } from '../../tree/types.js';
import { EROFS_BLKSIZ_BITS, EROFS_CHUNK_FORMAT_BLKBITS_MASK, EROFS_FEATURE_INCOMPAT_CHUNKED_FILE, EROFS_XATTR_IBODY_HEADER_SIZE } from './constants.js';
import { layout, xattrEntrySize, xattrIndex } from './layout.js';
import { byteCmp, newENode, type ENode } from './model.js';
import { nodeOf, pathOf, shapeTree } from './shape.js';
import { serialize } from './serialize.js';
import { writeImageFile } from './output.js';

/** Sparse files are split into at most this many chunks (the block map then stays <= 256 KiB). */
export const MAX_SPARSE_CHUNKS = 65536;
/** e_name_len is 8 bits; e_value_size 16 bits; i_xattr_icount 16 bits. */
const XATTR_SUFFIX_MAX = 255;
const XATTR_VALUE_MAX = 0xffff;
const XATTR_ICOUNT_MAX = 0xffff;

/** Options of writeErofs (images are always uncompressed, 4 KiB blocks). */
export interface ErofsOptions {
  /** Also write every byte to this file (see OutputOptions.mirror). */
  mirror?: string;
}

export interface ErofsResult {
  /** Image size in bytes. */
  bytes: number;
}

function fail(path: string, what: string): never {
  throw new Oci2fsError(ErrorCode.TREE_INVALID, `Cannot write EROFS image: ${JSON.stringify(path)} ${what}`);
}

/** Chunked layout for a sparse file: chunk size and which chunks hold data. */
function sparseChunks(f: FileInode): { chunkBits: number; present: boolean[] } | null {
  if (f.content.kind !== 'file' || !f.content.sparse || f.size === 0) return null;
  let bits = EROFS_BLKSIZ_BITS;
  while (Math.ceil(f.size / 2 ** bits) > MAX_SPARSE_CHUNKS && bits < EROFS_BLKSIZ_BITS + EROFS_CHUNK_FORMAT_BLKBITS_MASK) bits++;
  const cs = 2 ** bits;
  const present: boolean[] = new Array(Math.ceil(f.size / cs)).fill(false);
  for (const s of f.content.sparse) {
    if (s.length === 0) continue;
    const first = Math.floor(s.offset / cs);
    const last = Math.floor((s.offset + s.length - 1) / cs);
    for (let i = first; i <= last && i < present.length; i++) present[i] = true;
  }
  return { chunkBits: bits, present };
}

function build(tree: ValidatedTree): { nodes: ENode[]; chunked: boolean } {
  let chunked = false;
  const make = (inode: Inode, nlink: number): ENode => {
    let data: ENode['data'] = { kind: 'none' };
    if (inode.kind === 'file' && inode.size > 0) {
      const sc = sparseChunks(inode);
      if (sc) {
        data = { kind: 'sparse-chunks', inode, ...sc };
        chunked = true;
      } else if (inode.content.kind === 'inline') data = { kind: 'bytes', data: inode.content.data };
      else data = { kind: 'stream', inode };
    }
    const xattrs = [...inode.xattrs.entries()].sort((a, b) => byteCmp(a[0], b[0])).map(([key, v]) => {
      if (xattrIndex(key)[1].length > XATTR_SUFFIX_MAX) fail(pathOf(tree.root, inode), `has an xattr name too long for EROFS (${key.length} bytes)`);
      if (v.length > XATTR_VALUE_MAX) fail(pathOf(tree.root, inode), `has an xattr value over ${XATTR_VALUE_MAX} bytes`);
      return { key, value: Buffer.from(v), sharedOffset: -1 };
    });
    const xsize = xattrs.reduce((s, x) => s + xattrEntrySize(x), EROFS_XATTR_IBODY_HEADER_SIZE);
    if ((xsize - EROFS_XATTR_IBODY_HEADER_SIZE) / 4 + 1 > XATTR_ICOUNT_MAX) fail(pathOf(tree.root, inode), 'has more xattr data than an EROFS inode can hold');
    return nodeOf(inode, nlink, data, xattrs);
  };
  const { nodes } = shapeTree(tree.root, make);
  return { nodes, chunked };
}

/**
 * Writes a plain, uncompressed EROFS image of `tree` (contents inside,
 * streamed from the tree) to `outPath`. Deterministic: same tree, same bytes.
 */
export async function writeErofs(tree: ValidatedTree, outPath: string, opts: ErofsOptions = {}): Promise<ErofsResult> {
  const { nodes, chunked } = build(tree);
  const L = layout(nodes);
  const bytes = await writeImageFile(outPath, 'EROFS image', (sink) => serialize(sink, nodes, L, { featureIncompat: chunked ? EROFS_FEATURE_INCOMPAT_CHUNKED_FILE : 0 }), undefined, opts.mirror);
  return { bytes };
}
