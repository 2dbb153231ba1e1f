/**
 * composefs images: EROFS metadata-only images whose regular files point
 * to content objects through overlayfs xattrs, byte-identical to what the C
 * `mkcomposefs` writes for the same tree. Every rule is in docs/composefs.md.
 */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { makedev, stMode, walk, type FileInode, type Inode, type ValidatedTree } from '../../tree/types.js';
import { createFsverityHasher } from '../../fsverity/index.js';
import { smallContent, storedInline, LCFS_INODE_EXTERNAL_XATTR_MAX, XATTR_NAME_MAX, XATTR_VALUE_MAX, xattrCost } from '../../dumpfile/index.js';
import { EROFS_BLKSIZ_BITS, EROFS_CHUNK_FORMAT_BLKBITS_MASK, LCFS_MAX_NONINLINE_CHUNKS } from './constants.js';
import { layout } from './layout.js';
import { byteCmp, newENode, type EDirent, type ENode } from './model.js';
import { nodeOf, pathOf, shapeTree } from './shape.js';
import { prepareObjects, type ObjectRef } from './objects.js';
import { serialize } from './serialize.js';
import { writeImageFile } from './output.js';

/** overlayfs xattr names (Documentation/filesystems/overlayfs.rst). */
const OVERLAY_PREFIX = 'trusted.overlay.';
const OVERLAY_ESCAPE_PREFIX = 'trusted.overlay.overlay.';
const XATTR_METACOPY = 'trusted.overlay.metacopy';
const XATTR_REDIRECT = 'trusted.overlay.redirect';
const XATTR_OPAQUE = 'trusted.overlay.opaque';
const XATTR_ESCAPED_WHITEOUT = 'trusted.overlay.overlay.whiteout';
const XATTR_ESCAPED_WHITEOUTS = 'trusted.overlay.overlay.whiteouts';
const XATTR_ESCAPED_OPAQUE = 'trusted.overlay.overlay.opaque';
const XATTR_USER_WHITEOUT = 'user.overlay.whiteout';
const XATTR_USER_WHITEOUTS = 'user.overlay.whiteouts';
const XATTR_USER_OPAQUE = 'user.overlay.opaque';
/** metacopy value: u8 version 0, u8 length 36, u8 flags 0, u8 digest algo (FS_VERITY_HASH_ALG_SHA256 = 1), 32-byte digest. */
const METACOPY_SIZE = 36;
const FS_VERITY_HASH_ALG_SHA256 = 1;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
/** Whiteout stubs added to the root so the image can be a data-only lower layer ("00".."ff"). */
const WHITEOUT_STUB_MODE = S_IFCHR | 0o644;

export interface ComposefsOptions {
  /** Format version: 1 (default), 0, or 'auto' (0, raised to 1 when the tree holds a whiteout: mkcomposefs defaults). */
  version?: 0 | 1 | 'auto';
  /** Copy each referenced content to OBJECTSDIR/XX/REST (by fs-verity digest), skipping existing ones. */
  objectsDir?: string;
  /** Known fs-verity digests (hex) of file contents, to avoid recomputing them. */
  digests?: Map<FileInode, string>;
  /** On-disk contents up to this many bytes are stored inline (default 64, as mkcomposefs). */
  inlineMax?: number;
  /** Also write every byte to this file (see OutputOptions.mirror). */
  mirror?: string;
}

export interface ComposefsResult {
  /** fs-verity digest (sha256, hex) of the image file. */
  fsverityDigest: string;
  newObjects: number;
  objects: number;
}

function fail(path: string, what: string): never {
  throw new Oci2fsError(ErrorCode.TREE_INVALID, `Cannot write composefs image: ${JSON.stringify(path)} ${what}`);
}

function isWhiteout(i: Inode): boolean {
  return i.kind === 'chardev' && i.rdevMajor === 0 && i.rdevMinor === 0;
}

/** Chunk size bits for a reference-only file (ilog2(size-1)+1, clamped to 12..43); sizes are < 2^53. */
function chunkBitsFor(size: number): number {
  const bitLen = size > 1 ? (size - 1).toString(2).length : 0;
  return Math.min(Math.max(bitLen, EROFS_BLKSIZ_BITS), EROFS_CHUNK_FORMAT_BLKBITS_MASK + EROFS_BLKSIZ_BITS);
}

function resolveVersion(tree: ValidatedTree, v: 0 | 1 | 'auto'): number {
  if (v !== 'auto') return v;
  let found = false;
  walk(tree.root, (_p, i) => {
    if (isWhiteout(i)) found = true;
  });
  return found ? 1 : 0;
}

interface Built {
  nodes: ENode[];
  hasAcl: boolean;
}

/** Sets xattr `key` of a node (replacing a value set before: the lists are short). */
function setX(n: ENode, key: string, value: Buffer): void {
  for (const x of n.xattrs) {
    if (x.key === key) {
      x.value = value;
      return;
    }
  }
  n.xattrs.push({ key, value, sharedOffset: -1 });
}

/** The ENode of one inode: mode, owner, size, data kind, and its own xattrs (overlay ones escaped). */
function makeNode(tree: ValidatedTree, inode: Inode, nlink: number, inlineMax: number | undefined): ENode {
  let data: ENode['data'] = { kind: 'none' };
  if (inode.kind === 'file') {
    const size = inode.size;
    if (storedInline(inode, inlineMax)) data = { kind: 'bytes', data: smallContent(inode) };
    else if (size > 0) {
      const bits = chunkBitsFor(size);
      const chunks = Math.ceil(size / 2 ** bits); // exact: a power-of-two divisor
      if (chunks > LCFS_MAX_NONINLINE_CHUNKS) fail(pathOf(tree.root, inode), `is ${size} bytes, too big for a composefs reference (max ${LCFS_MAX_NONINLINE_CHUNKS} chunks of 2^43 bytes)`);
      data = { kind: 'null-chunks', chunkBits: bits, chunks };
    }
  }
  const n = nodeOf(inode, nlink, data, []);
  for (const [k, v] of inode.xattrs) {
    if (k.length > XATTR_NAME_MAX) fail(pathOf(tree.root, inode), `has an xattr name longer than ${XATTR_NAME_MAX} bytes`);
    if (v.length > XATTR_VALUE_MAX) fail(pathOf(tree.root, inode), `has an xattr value longer than ${XATTR_VALUE_MAX} bytes`);
    // Escape the image's own overlay xattrs so overlayfs does not interpret them.
    setX(n, k.startsWith(OVERLAY_PREFIX) ? OVERLAY_ESCAPE_PREFIX + k.slice(OVERLAY_PREFIX.length) : k, Buffer.from(v));
  }
  return n;
}

/** Builds the breadth-first list of composefs inodes (overlay xattrs, whiteouts, stubs). */
function build(tree: ValidatedTree, version: number, refs: Map<FileInode, ObjectRef>, inlineMax: number | undefined): Built {
  const root = tree.root;
  // The root's whiteout stubs "00".."ff" (where no entry has the name), so the image can be a data-only lower layer.
  const stubs = (rootNode: ENode): EDirent[] => {
    const selinux = root.xattrs.get('security.selinux');
    const out: EDirent[] = [];
    for (let i = 0; i < 256; i++) {
      const name = i.toString(16).padStart(2, '0');
      if (root.children.has(name)) continue;
      const stub = newENode({ mode: WHITEOUT_STUB_MODE, nlink: 1, uid: rootNode.uid, gid: rootNode.gid, mtimeSec: rootNode.mtimeSec, mtimeNsec: rootNode.mtimeNsec, rdev: 0, size: 0, xattrs: [], data: { kind: 'none' } });
      if (selinux) stub.xattrs.push({ key: 'security.selinux', value: Buffer.from(selinux), sharedOffset: -1 });
      out.push({ name, target: stub });
    }
    return out;
  };
  const { nodes, enodes, parentOf } = shapeTree(root, (inode, nlink) => makeNode(tree, inode, nlink, inlineMax), stubs);

  // overlayfs metadata: content references and whiteouts.
  for (const [inode, n] of enodes) {
    if (inode.kind === 'file' && n.data.kind === 'null-chunks') {
      const ref = refs.get(inode) ?? { payload: '' };
      let meta = Buffer.alloc(0);
      if (ref.digest) {
        meta = Buffer.alloc(METACOPY_SIZE);
        meta[1] = METACOPY_SIZE;
        meta[3] = FS_VERITY_HASH_ALG_SHA256;
        meta.write(ref.digest, 4, 'hex');
      }
      setX(n, XATTR_METACOPY, meta);
      if (ref.payload !== '') setX(n, XATTR_REDIRECT, Buffer.from(`/${ref.payload}`, 'latin1'));
    }
    if (isWhiteout(inode)) {
      n.mode = S_IFREG | (inode.mode & 0o7777);
      n.size = 0;
      n.rdev = 0;
      setX(n, XATTR_ESCAPED_WHITEOUT, Buffer.alloc(0));
      setX(n, XATTR_USER_WHITEOUT, Buffer.alloc(0));
      const p = enodes.get(parentOf.get(inode) ?? root) as ENode;
      setX(p, XATTR_ESCAPED_WHITEOUTS, Buffer.alloc(0));
      setX(p, XATTR_USER_WHITEOUTS, Buffer.alloc(0));
      if (version >= 1) {
        setX(p, XATTR_ESCAPED_OPAQUE, Buffer.from('x'));
        setX(p, XATTR_USER_OPAQUE, Buffer.from('x'));
      }
    }
  }
  setX(nodes[0], XATTR_OPAQUE, Buffer.from('y'));

  // Final xattr lists (sorted by name) and the per-inode budget libcomposefs enforces.
  let hasAcl = false;
  for (const n of nodes) {
    if (n.xattrs.length === 0) continue;
    let cost = 0;
    for (const x of n.xattrs) {
      if (x.key === 'system.posix_acl_access' || x.key === 'system.posix_acl_default') hasAcl = true;
      cost += xattrCost(x.key.length, x.value.length, cost === 0);
    }
    if (cost > LCFS_INODE_EXTERNAL_XATTR_MAX) {
      throw new Oci2fsError(ErrorCode.TREE_INVALID, `Cannot write composefs image: an inode has ${cost} bytes of xattrs, over the ${LCFS_INODE_EXTERNAL_XATTR_MAX}-byte composefs limit`);
    }
    if (n.xattrs.length > 1) n.xattrs.sort((a, b) => byteCmp(a.key, b.key));
  }
  return { nodes, hasAcl };
}

/**
 * Writes a composefs image of `tree` to `outPath`, byte-identical to C
 * `mkcomposefs` for the same input (see docs/composefs.md), and returns its
 * fs-verity digest plus object statistics.
 */
export async function writeComposefs(tree: ValidatedTree, outPath: string, opts: ComposefsOptions = {}): Promise<ComposefsResult> {
  const version = resolveVersion(tree, opts.version ?? 1);
  const objs = await prepareObjects(tree, opts);
  const { nodes, hasAcl } = build(tree, version, objs.refs, opts.inlineMax);
  const L = layout(nodes);
  const hasher = createFsverityHasher();
  await writeImageFile(outPath, 'composefs image', (sink) => serialize(sink, nodes, L, { composefs: { version, hasAcl } }), hasher, opts.mirror);
  return { fsverityDigest: hasher.digest().toString('hex'), newObjects: objs.newObjects, objects: objs.objects };
}
