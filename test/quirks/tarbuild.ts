/**
 * Test-only tar builder for the quirk corpus: writes a POSIX (pax) layer tar
 * from entry specs and returns the TarEntry list a reader must produce for
 * it (with real data offsets), so quirk trees do not depend on our tar
 * reader. Deliberately independent from src/tar: quirk layers are also
 * listed by GNU tar and unpacked by umoci as oracles.
 *
 * Format: ustar headers (POSIX.1-1988) with pax extended headers
 * (POSIX.1-2001 typeflag 'x') for anything ustar cannot hold; sparse files
 * use GNU pax sparse format 1.0 (GNU tar manual, "Sparse Formats").
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { TarEntry, TarEntryType } from '../../src/tar/entry.js';

const BLOCK = 512;
const TYPEFLAG: Record<TarEntryType, string> = { file: '0', hardlink: '1', symlink: '2', chardev: '3', blockdev: '4', dir: '5', fifo: '6' };

/** One entry to write. Strings are byte strings (latin1). */
export interface EntrySpec {
  path: string;
  type: TarEntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  mtimeSec?: number;
  mtimeNsec?: number;
  linkname?: string;
  /** File data (byte string or bytes); for sparse files, the logical content is built from `sparse`. */
  data?: string | Uint8Array;
  xattrs?: Record<string, string | Uint8Array>;
  devMajor?: number;
  devMinor?: number;
  /** Sparse file: data runs (filled with `fill` bytes) in a file of `size` bytes. */
  sparse?: { size: number; runs: { offset: number; length: number; fill: number }[] };
}

const bytes = (s: string | Uint8Array): Buffer => (typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s));

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'latin1'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

function ustarHeader(f: { name: Buffer; mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname: Buffer; devMajor: number; devMinor: number }): Buffer {
  const h = Buffer.alloc(BLOCK);
  f.name.copy(h, 0, 0, Math.min(100, f.name.length));
  h.write(octal(f.mode, 8), 100, 'latin1');
  h.write(octal(f.uid, 8), 108, 'latin1');
  h.write(octal(f.gid, 8), 116, 'latin1');
  h.write(octal(f.size, 12), 124, 'latin1');
  h.write(octal(f.mtime, 12), 136, 'latin1');
  h.write(f.type, 156, 'latin1');
  f.linkname.copy(h, 157, 0, Math.min(100, f.linkname.length));
  h.write('ustar\0' + '00', 257, 'latin1');
  h.write(octal(f.devMajor, 8), 329, 'latin1');
  h.write(octal(f.devMinor, 8), 337, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** Writes `specs` as a tar at `path`; returns the entries a correct reader yields. */
export async function buildLayerTar(path: string, specs: EntrySpec[]): Promise<TarEntry[]> {
  const parts: Buffer[] = [];
  let pos = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    pos += b.length;
  };
  const entries: TarEntry[] = [];
  for (const s of specs) {
    const name = bytes(s.path);
    const linkname = bytes(s.linkname ?? '');
    const mode = s.mode ?? (s.type === 'dir' ? 0o755 : 0o644);
    const uid = s.uid ?? 0;
    const gid = s.gid ?? 0;
    const mtimeSec = s.mtimeSec ?? 1_600_000_000;
    const mtimeNsec = s.mtimeNsec ?? 0;
    let data = s.type === 'file' ? bytes(s.data ?? '') : Buffer.alloc(0);
    let size = data.length;
    let sparse: TarEntry['sparse'];
    const pax: Buffer[] = [];
    let hdrName = name;
    if (s.sparse) {
      size = s.sparse.size;
      // GNU tar ends the map with an empty run at the logical size (its extractor relies on it).
      sparse = [...s.sparse.runs.map((r) => ({ offset: r.offset, length: r.length })), { offset: s.sparse.size, length: 0 }];
      const map = [String(sparse.length), ...sparse.flatMap((r) => [String(r.offset), String(r.length)])].join('\n') + '\n';
      const mapBuf = Buffer.concat([Buffer.from(map), pad(map.length)]);
      data = Buffer.concat([mapBuf, ...s.sparse.runs.map((r) => Buffer.alloc(r.length, r.fill))]);
      pax.push(paxRecord('GNU.sparse.major', Buffer.from('1')), paxRecord('GNU.sparse.minor', Buffer.from('0')));
      pax.push(paxRecord('GNU.sparse.name', name), paxRecord('GNU.sparse.realsize', Buffer.from(String(size))));
      hdrName = Buffer.from('GNUSparseFile.0/sparse', 'latin1');
    } else if (name.length > 100) {
      pax.push(paxRecord('path', name));
    }
    if (linkname.length > 100) pax.push(paxRecord('linkpath', linkname));
    if (uid > 0o7777777) pax.push(paxRecord('uid', Buffer.from(String(uid))));
    if (gid > 0o7777777) pax.push(paxRecord('gid', Buffer.from(String(gid))));
    if (mtimeNsec !== 0 || mtimeSec < 0 || mtimeSec > 0o77777777777) {
      const t = mtimeSec < 0 && mtimeNsec > 0 ? `-${-mtimeSec - 1}.${String(1e9 - mtimeNsec).padStart(9, '0')}` : `${mtimeSec}${mtimeNsec ? '.' + String(mtimeNsec).padStart(9, '0') : ''}`;
      pax.push(paxRecord('mtime', Buffer.from(t)));
    }
    for (const [k, v] of Object.entries(s.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, bytes(v)));
    if (pax.length > 0) {
      const body = Buffer.concat(pax);
      push(ustarHeader({ name: Buffer.from('PaxHeader', 'latin1'), mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0, type: 'x', linkname: Buffer.alloc(0), devMajor: 0, devMinor: 0 }));
      push(body);
      push(pad(body.length));
    }
    const storedSize = s.type === 'file' ? data.length : 0;
    const clampTime = Math.min(Math.max(mtimeSec, 0), 0o77777777777);
    push(ustarHeader({
      name: hdrName, mode, uid: Math.min(uid, 0o7777777), gid: Math.min(gid, 0o7777777), size: storedSize, mtime: clampTime,
      type: TYPEFLAG[s.type], linkname: linkname.length > 100 ? linkname.subarray(0, 100) : linkname,
      devMajor: s.devMajor ?? 0, devMinor: s.devMinor ?? 0,
    }));
    let dataOffset = pos;
    let dataLength = storedSize;
    if (s.sparse) {
      const mapLen = data.length - sparse!.reduce((a, r) => a + r.length, 0);
      dataOffset += mapLen;
      dataLength -= mapLen;
    }
    push(data);
    push(pad(data.length));
    const xattrs = new Map<string, Uint8Array>();
    for (const [k, v] of Object.entries(s.xattrs ?? {})) xattrs.set(k, new Uint8Array(bytes(v)));
    entries.push({
      path: s.path, type: s.type, mode, uid, gid, mtimeSec, mtimeNsec, size: s.type === 'file' ? size : 0,
      linkname: s.linkname ?? '', devMajor: s.devMajor ?? 0, devMinor: s.devMinor ?? 0, xattrs,
      dataOffset: s.type === 'file' ? dataOffset : pos, dataLength: s.type === 'file' ? dataLength : 0,
      ...(sparse ? { sparse } : {}),
    });
  }
  push(Buffer.alloc(2 * BLOCK));
  await writeFile(path, Buffer.concat(parts));
  return entries;
}

/** Async iterable over an array (what flattenLayers consumes). */
export async function* iterate<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield i;
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
