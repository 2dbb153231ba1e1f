/**
 * Setting many xattrs with one `setfattr -h --restore=FILE` (attr package).
 * The restore file has getfattr's dump format: "# file: PATH" then
 * "NAME=0xHEX" lines, blank line between files; PATH and NAME use "\ooo"
 * octal escapes for "\", control characters, "=" and bytes >= 0x7f (which
 * setfattr decodes), so any byte name works. -h: symlinks are not followed.
 */
import { spawn } from 'node:child_process';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Oci2fsError, ErrorCode } from '../../errors.js';

export const SETFATTR = 'setfattr';

export function escapeName(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x21 || c >= 0x7f || c === 0x5c || c === 0x3d ? '\\' + c.toString(8).padStart(3, '0') : s[i];
  }
  return out;
}

/** The restore file for entries (paths relative to the directory setfattr runs in). */
export function restoreFile(entries: { path: string; xattrs: Map<string, Uint8Array> }[]): Buffer {
  const parts: string[] = [];
  for (const e of entries) {
    parts.push(`# file: ${escapeName(e.path)}\n`);
    for (const name of [...e.xattrs.keys()].sort()) parts.push(`${escapeName(name)}=0x${Buffer.from(e.xattrs.get(name) as Uint8Array).toString('hex')}\n`);
    parts.push('\n');
  }
  return Buffer.from(parts.join(''), 'latin1');
}

/** Runs setfattr in `cwd` (a UTF-8 path) over `entries`; throws E_IO on any failure. */
export async function restoreXattrs(cwd: string, tmpName: string, entries: { path: string; xattrs: Map<string, Uint8Array> }[]): Promise<void> {
  if (entries.length === 0) return;
  const file = join(cwd, tmpName);
  await writeFile(file, restoreFile(entries), { flag: 'wx', mode: 0o600 });
  try {
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      const child = spawn(SETFATTR, ['-h', `--restore=${tmpName}`], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
      const err: Buffer[] = [];
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => reject(new Oci2fsError(ErrorCode.IO, `Cannot run ${SETFATTR} (package attr) to set extended attributes: ${e.message}. Install attr.`, { cause: e })));
      child.on('close', (c) => resolve({ code: c ?? -1, stderr: Buffer.concat(err).toString('utf8') }));
    });
    if (code !== 0) throw new Oci2fsError(ErrorCode.IO, `${SETFATTR} failed setting extended attributes under ${cwd}: ${stderr.trim().split('\n').slice(0, 3).join('; ')}`);
  } finally {
    await rm(file, { force: true });
  }
}
