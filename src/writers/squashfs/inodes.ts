/**
 * Encoders for the squashfs inode records (kernel squashfs_fs.h struct
 * squashfs_*_inode). Each returns the complete record: the 16-byte common
 * header followed by the type-specific part.
 */
import { Bytes } from './bytes.js';
import { INODE_TYPE, INVALID_XATTR } from './constants.js';

/** Fields of struct squashfs_base_inode (the common header). */
export interface InodeHeader {
  /** Permission bits (st_mode & 07777). */
  mode: number;
  /** Index of the uid / gid in the id table. */
  uidIndex: number;
  gidIndex: number;
  /** Unsigned seconds. */
  mtime: number;
  /** 1-based inode number. */
  number: number;
}

function header(b: Bytes, type: number, h: InodeHeader): Bytes {
  return b.u16(type).u16(h.mode & 0o7777).u16(h.uidIndex).u16(h.gidIndex).u32(h.mtime).u32(h.number);
}

/** One entry of an extended directory's index (struct squashfs_dir_index). */
export interface DirIndexEntry {
  /** Byte offset of the indexed header from the listing start (uncompressed). */
  index: number;
  /** Directory-table-relative start of the metadata block holding that header. */
  startBlock: number;
  /** First name after the header (byte string). */
  name: string;
}

export interface DirInodeFields {
  /** Directory-table-relative start of the metadata block where the listing starts. */
  startBlock: number;
  /** Offset of the listing inside that block. */
  offset: number;
  /** Listing size + 3. */
  fileSize: number;
  nlink: number;
  parent: number;
  xattr: number;
  index: DirIndexEntry[];
}

/** struct squashfs_dir_inode, or squashfs_ldir_inode (+ index) when `extended`. */
export function encodeDirInode(h: InodeHeader, f: DirInodeFields, extended: boolean): Buffer {
  const b = new Bytes();
  if (!extended) {
    header(b, INODE_TYPE.dir, h).u32(f.startBlock).u32(f.nlink).u16(f.fileSize).u16(f.offset).u32(f.parent);
    return b.bytes();
  }
  header(b, INODE_TYPE.ldir, h)
    .u32(f.nlink).u32(f.fileSize).u32(f.startBlock).u32(f.parent)
    .u16(f.index.length).u16(f.offset).u32(f.xattr);
  for (const e of f.index) b.u32(e.index).u32(e.startBlock).u32(e.name.length - 1).raw(e.name);
  return b.bytes();
}

export interface FileInodeFields {
  /** Absolute position of the first data block. */
  start: number;
  size: number;
  /** On-disk block sizes (bit 24 = uncompressed, 0 = sparse). */
  blocks: number[];
  /** Fragment index or INVALID_FRAGMENT. */
  fragment: number;
  fragmentOffset: number;
  /** Bytes saved by sparse blocks. */
  sparse: number;
  nlink: number;
  xattr: number;
}

/** True when a file needs struct squashfs_lreg_inode. */
export function fileNeedsExtended(f: FileInodeFields): boolean {
  return f.start >= 2 ** 32 || f.size >= 2 ** 32 || f.nlink !== 1 || f.xattr !== INVALID_XATTR || f.sparse !== 0;
}

/** struct squashfs_reg_inode or squashfs_lreg_inode, followed by the block list. */
export function encodeFileInode(h: InodeHeader, f: FileInodeFields): Buffer {
  const b = new Bytes(64 + f.blocks.length * 4);
  if (fileNeedsExtended(f)) {
    header(b, INODE_TYPE.lfile, h)
      .u64(f.start).u64(f.size).u64(f.sparse).u32(f.nlink).u32(f.fragment).u32(f.fragmentOffset).u32(f.xattr);
  } else {
    header(b, INODE_TYPE.file, h).u32(f.start).u32(f.fragment).u32(f.fragmentOffset).u32(f.size);
  }
  for (const s of f.blocks) b.u32(s);
  return b.bytes();
}

/** struct squashfs_symlink_inode (extended: + u32 xattr after the target). */
export function encodeSymlinkInode(h: InodeHeader, nlink: number, target: string, xattr: number): Buffer {
  const ext = xattr !== INVALID_XATTR;
  const b = header(new Bytes(32 + target.length), ext ? INODE_TYPE.lsymlink : INODE_TYPE.symlink, h)
    .u32(nlink).u32(target.length).raw(target);
  if (ext) b.u32(xattr);
  return b.bytes();
}

/** struct squashfs_dev_inode / squashfs_ldev_inode; `rdev` in Linux new_encode_dev form. */
export function encodeDeviceInode(h: InodeHeader, block: boolean, nlink: number, rdev: number, xattr: number): Buffer {
  const ext = xattr !== INVALID_XATTR;
  const type = block ? (ext ? INODE_TYPE.lblockdev : INODE_TYPE.blockdev) : ext ? INODE_TYPE.lchardev : INODE_TYPE.chardev;
  const b = header(new Bytes(), type, h).u32(nlink).u32(rdev);
  if (ext) b.u32(xattr);
  return b.bytes();
}

/** struct squashfs_ipc_inode / squashfs_lipc_inode (FIFOs and sockets). */
export function encodeIpcInode(h: InodeHeader, socket: boolean, nlink: number, xattr: number): Buffer {
  const ext = xattr !== INVALID_XATTR;
  const type = socket ? (ext ? INODE_TYPE.lsocket : INODE_TYPE.socket) : ext ? INODE_TYPE.lfifo : INODE_TYPE.fifo;
  const b = header(new Bytes(), type, h).u32(nlink);
  if (ext) b.u32(xattr);
  return b.bytes();
}
