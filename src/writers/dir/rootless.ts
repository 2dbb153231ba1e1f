/**
 * The `user.rootlesscontainers` xattr (rootless-containers/proto,
 * rootlesscontainers.proto, as umoci writes it when unpacking rootless):
 *   message Resource { uint32 uid = 1; uint32 gid = 2; }
 * proto3 encoding: field 1 varint (tag 0x08), field 2 varint (tag 0x10),
 * zero values omitted. umoci writes no xattr when uid and gid are both 0.
 */

export const ROOTLESS_XATTR = 'user.rootlesscontainers';

/** Protobuf wire tags: (field_number << 3) | wire type 0 (varint). */
const TAG_UID = (1 << 3) | 0;
const TAG_GID = (2 << 3) | 0;

function varint(n: number, out: number[]): void {
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

/** The xattr value for an owner, or null when none is written (0:0). */
export function encodeRootlessOwner(uid: number, gid: number): Uint8Array | null {
  if (uid === 0 && gid === 0) return null;
  const out: number[] = [];
  if (uid !== 0) {
    out.push(TAG_UID);
    varint(uid, out);
  }
  if (gid !== 0) {
    out.push(TAG_GID);
    varint(gid, out);
  }
  return Uint8Array.from(out);
}
