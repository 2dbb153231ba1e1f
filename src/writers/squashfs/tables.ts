/**
 * Builds the inode table, directory table and xattr table from the planned
 * inode order and the finished data area (pure: bytes in memory, no I/O).
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { countLinks, makedev, sortedChildren, type DirInode, type Inode } from '../../tree/types.js';
import type { BlockCompressFn } from '../compressors/index.js';
import {
  BASIC_DIR_MAX_SIZE, DIR_SIZE_BIAS, INODE_TYPE, INVALID_XATTR, MAX_MTIME,
} from './constants.js';
import type { FileData } from './data.js';
import { writeListing, type ListingEntry } from './directory.js';
import {
  encodeDeviceInode, encodeDirInode, encodeFileInode, encodeIpcInode, encodeSymlinkInode, type InodeHeader,
} from './inodes.js';
import { MetadataWriter, packRef, type MetaRef } from './metadata.js';
import type { InodePlan } from './order.js';
import { XattrTableBuilder } from './xattr.js';

/** Basic inode type stored in directory entries. */
const ENTRY_TYPE: Record<Inode['kind'], number> = {
  dir: INODE_TYPE.dir,
  file: INODE_TYPE.file,
  symlink: INODE_TYPE.symlink,
  blockdev: INODE_TYPE.blockdev,
  chardev: INODE_TYPE.chardev,
  fifo: INODE_TYPE.fifo,
  socket: INODE_TYPE.socket,
};

export interface MetadataTables {
  inodeTable: Buffer;
  directoryTable: Buffer;
  /** Packed reference of the root inode. */
  rootRef: number;
  /** Packed inode reference per inode number - 1 (the export table). */
  exportRefs: number[];
  xattrs: XattrTableBuilder;
  /** Inode mtimes that did not fit the unsigned 32-bit field and were clamped. */
  clampedMtimes: number;
}

export interface TableInputs {
  root: DirInode;
  plan: InodePlan;
  fileData: Map<Inode, FileData>;
  /** uid/gid → index in the id table. */
  idIndex: Map<number, number>;
  compress: BlockCompressFn;
  /** Called for each xattr name squashfs cannot store. */
  skippedXattr: (name: string) => void;
}

/** Writes every inode and directory listing in plan order. */
export function buildTables(inp: TableInputs): MetadataTables {
  const { plan, fileData, idIndex } = inp;
  const inodes = new MetadataWriter(inp.compress);
  const dirs = new MetadataWriter(inp.compress);
  const xattrs = new XattrTableBuilder(inp.compress, inp.skippedXattr);
  const links = countLinks(inp.root);
  const refs = new Map<Inode, MetaRef>();
  const exportRefs: number[] = new Array<number>(plan.order.length);
  let clampedMtimes = 0;

  const header = (x: Inode): InodeHeader => {
    let mtime = x.mtimeSec;
    if (mtime < 0 || mtime > MAX_MTIME) {
      clampedMtimes++;
      mtime = Math.min(Math.max(mtime, 0), MAX_MTIME);
    }
    return { mode: x.mode, uidIndex: idIndex.get(x.uid)!, gidIndex: idIndex.get(x.gid)!, mtime, number: plan.numbers.get(x)! };
  };
  const put = (x: Inode, bytes: Uint8Array): void => {
    const number = plan.numbers.get(x)!;
    if (number !== refs.size + 1) throw new Oci2fsError(ErrorCode.INTERNAL, `squashfs inode order mismatch: writing #${number} after ${refs.size}`);
    const r = inodes.position();
    refs.set(x, r);
    exportRefs[number - 1] = packRef(r);
    inodes.write(bytes);
  };
  const nonDir = (x: Exclude<Inode, DirInode>): Uint8Array => {
    const h = header(x);
    const nlink = links.get(x) ?? 1;
    const xattr = xattrs.idFor(x.xattrs);
    switch (x.kind) {
      case 'file': {
        const d = fileData.get(x)!;
        return encodeFileInode(h, {
          start: d.start, size: x.size, blocks: d.blocks, fragment: d.fragment, fragmentOffset: d.fragmentOffset,
          sparse: d.sparse, nlink, xattr,
        });
      }
      case 'symlink':
        return encodeSymlinkInode(h, nlink, x.target, xattr);
      case 'chardev':
      case 'blockdev':
        return encodeDeviceInode(h, x.kind === 'blockdev', nlink, makedev(x.rdevMajor, x.rdevMinor), xattr);
      case 'fifo':
      case 'socket':
        return encodeIpcInode(h, x.kind === 'socket', nlink, xattr);
    }
  };
  const visit = (dir: DirInode, parent: number): void => {
    const self = plan.numbers.get(dir)!;
    const entries: ListingEntry[] = [];
    for (const [name, child] of sortedChildren(dir)) {
      if (child.kind === 'dir') visit(child, self);
      else if (!refs.has(child)) put(child, nonDir(child));
      const r = refs.get(child)!;
      entries.push({ name, inodeBlock: r.block, inodeOffset: r.offset, inodeNumber: plan.numbers.get(child)!, type: ENTRY_TYPE[child.kind] });
    }
    const loc = writeListing(dirs, entries);
    const h = header(dir);
    const xattr = xattrs.idFor(dir.xattrs);
    const fileSize = loc.size + DIR_SIZE_BIAS;
    const extended = loc.index.length > 0 || fileSize > BASIC_DIR_MAX_SIZE || xattr !== INVALID_XATTR;
    put(dir, encodeDirInode(h, {
      startBlock: loc.startBlock, offset: loc.offset, fileSize, nlink: links.get(dir)!, parent, xattr, index: loc.index,
    }, extended));
  };
  // The root's parent number is one past the last inode, as mksquashfs writes it.
  visit(inp.root, plan.order.length + 1);
  const rootRef = packRef(refs.get(inp.root)!);
  return { inodeTable: inodes.finish(), directoryTable: dirs.finish(), rootRef, exportRefs, xattrs, clampedMtimes };
}
