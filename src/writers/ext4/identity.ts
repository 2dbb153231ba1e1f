/**
 * Filesystem identity: UUID (given, or derived from the tree summary so the
 * same tree gives the same image), the metadata checksum seed and the
 * htree hash seed (both derived from the UUID).
 */
import { createHash } from 'node:crypto';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { crc32cRaw } from './crc32c.js';

/** Volume label field size (s_volume_name). */
export const LABEL_MAX = 16;

export interface Identity {
  uuid: Uint8Array;
  /** crc32c(~0, uuid): seed of every metadata checksum (no metadata_csum_seed feature). */
  fsSeed: number;
  /** s_hash_seed: 4 words. */
  hashSeed: number[];
  label: Uint8Array;
}

/** Parses "8-4-4-4-12" hex (dashes optional). */
export function parseUuid(s: string): Uint8Array {
  const hex = s.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new Oci2fsError(ErrorCode.USAGE, `Invalid ext4 UUID ${JSON.stringify(s)}: expected 32 hex digits like 01234567-89ab-cdef-0123-456789abcdef`);
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Formats 16 bytes as a dashed UUID string. */
export function formatUuid(u: Uint8Array): string {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Derives the identity. `salt` covers the options that change the image. */
export function makeIdentity(summary: Uint8Array, salt: string, uuid?: string, label?: string): Identity {
  let u: Uint8Array;
  if (uuid !== undefined) u = parseUuid(uuid);
  else {
    u = Uint8Array.from(createHash('sha256').update('oci2fs ext4 uuid\0').update(summary).update(salt).digest().subarray(0, 16));
    u[6] = (u[6] & 0x0f) | 0x40; // RFC 4122 version 4 layout (name-derived here, but random-looking)
    u[8] = (u[8] & 0x3f) | 0x80; // RFC 4122 variant
  }
  const seedBytes = createHash('sha256').update('oci2fs ext4 htree seed\0').update(u).digest();
  const hashSeed = [0, 4, 8, 12].map((o) => seedBytes.readUInt32LE(o));
  const lab = Buffer.from(label ?? '', 'utf8');
  if (lab.length > LABEL_MAX) {
    throw new Oci2fsError(ErrorCode.USAGE, `ext4 label ${JSON.stringify(label)} is ${lab.length} bytes; the limit is ${LABEL_MAX}`);
  }
  const labelBytes = new Uint8Array(LABEL_MAX);
  labelBytes.set(lab);
  return { uuid: u, fsSeed: crc32cRaw(0xffffffff, u), hashSeed, label: labelBytes };
}
