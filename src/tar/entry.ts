/**
 * The shape of one decoded tar entry, after PAX/GNU extensions are applied.
 * Produced by the tar reader (tar/reader.ts), consumed by flatten (tree/).
 * Paths and link names are byte strings (see tree/types.ts).
 */

export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'chardev'
  | 'blockdev'
  | 'dir'
  | 'fifo';

/**
 * The xattrs of every entry that has none: one shared map, so 53k entries
 * (and the inodes made from them) do not each keep an empty Map alive, which
 * the garbage collector copied twice over while a layer was listed (flatten
 * of the bench image ~8% faster). Read-only: set, delete and clear throw.
 */
export const NO_XATTRS: Map<string, Uint8Array> = new Map();
const readOnly = (): never => {
  throw new TypeError('NO_XATTRS is shared by every entry without xattrs: assign a new Map instead of changing it');
};
Object.defineProperties(NO_XATTRS, { set: { value: readOnly }, delete: { value: readOnly }, clear: { value: readOnly } });
Object.freeze(NO_XATTRS);

export interface TarEntry {
  /** Entry name as written in the archive (byte string), not yet normalised. */
  path: string;
  type: TarEntryType;
  /** Permission bits incl. setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Logical size of a regular file (sparse: the real size, holes included). */
  size: number;
  /** Link target for symlink and hardlink entries (byte string). */
  linkname: string;
  devMajor: number;
  devMinor: number;
  /** xattrs from SCHILY.xattr.* / LIBARCHIVE.xattr.* (values are raw bytes); NO_XATTRS when none (shared: never changed in place). */
  xattrs: Map<string, Uint8Array>;
  /**
   * Offset of the entry's (packed) data within the uncompressed tar stream,
   * and its packed length (== size unless sparse).
   */
  dataOffset: number;
  dataLength: number;
  /** Data segments of a sparse file (GNU sparse 'S', PAX 0.0/0.1/1.0). */
  sparse?: { offset: number; length: number }[];
}
