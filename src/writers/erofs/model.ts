/**
 * The intermediate model both EROFS writers lay out: one `ENode` per inode
 * to serialize, in final (breadth-first) order, with everything the layout
 * needs already decided (xattrs, data kind). Built by composefs.ts (overlay
 * metadata, whiteout stubs) or plain.ts (data inside).
 */
import type { FileInode } from '../../tree/types.js';

/** Where a regular file's bytes go. */
export type EData =
  | { kind: 'none' }
  /** Bytes known in memory (small), laid out as blocks + inline tail. */
  | { kind: 'bytes'; data: Uint8Array }
  /** composefs: content lives elsewhere; `chunks` null chunk indexes (EROFS_INODE_CHUNK_BASED). */
  | { kind: 'null-chunks'; chunkBits: number; chunks: number }
  /** Plain EROFS: content streamed from the tree, laid out as blocks + inline tail. */
  | { kind: 'stream'; inode: FileInode }
  /** Plain EROFS sparse file: chunk-based, `present[i]` tells which chunks hold data (others are holes). */
  | { kind: 'sparse-chunks'; inode: FileInode; chunkBits: number; present: boolean[] };

export interface EXattr {
  /** Full name, byte string. */
  key: string;
  value: Buffer;
  /** Set by the shared-xattr pass: byte offset in the shared area, or -1 when stored in the inode. */
  sharedOffset: number;
}

export interface EDirent {
  name: string;
  target: ENode;
}

export interface ENode {
  /** Full st_mode (type | permissions), 16 bits. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Device number (new-style 32-bit encoding) for char/block devices. */
  rdev: number;
  /** st_size for regular files and symlinks (ignored for others). */
  size: number;
  xattrs: EXattr[];
  /** Directories: entries sorted by byte order, including "." and "..". */
  dirents?: EDirent[];
  /** Symlink target (byte string). */
  target?: string;
  data: EData;

  // ---- filled by the layout pass ----
  inodeNum: number;
  compact: boolean;
  nid: number;
  ipad: number;
  isize: number;
  nBlocks: number;
  tailSize: number;
  xattrSize: number;
  /** First data block address (when nBlocks > 0 or for sparse chunks). */
  blkaddr: number;
}

/** A fresh node with empty layout fields. */
export function newENode(init: Pick<ENode, 'mode' | 'nlink' | 'uid' | 'gid' | 'mtimeSec' | 'mtimeNsec' | 'rdev' | 'size' | 'xattrs' | 'data'> & Partial<ENode>): ENode {
  return {
    inodeNum: 0, compact: false, nid: 0, ipad: 0, isize: 0, nBlocks: 0, tailSize: 0, xattrSize: 0, blkaddr: 0,
    ...init,
  };
}

/** Byte-order comparison of byte strings (strcmp on unsigned bytes). */
export function byteCmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
