/**
 * Reading extended attributes of a whole directory tree with `getfattr`
 * (attr package): Node has no xattr API. One process for the tree:
 *   getfattr -R -P -h -d -m - -e hex --absolute-names ROOT
 * Output (attr's getfattr.c): blocks of "# file: PATH" followed by
 * "NAME=0xHEX" lines and a blank line; in PATH and NAME, "\", control
 * characters and the like are written as "\ooo" octal escapes.
 */
import { spawn } from 'node:child_process';
import type { ProgressListener } from '../events.js';
import { Oci2fsError, ErrorCode } from '../errors.js';

export const GETFATTR = 'getfattr';

/** Decodes getfattr's "\ooo" escapes in a byte string. */
export function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses `getfattr -d -e hex` output: path (byte string) → name → value. */
export function parseGetfattr(out: string): Map<string, Map<string, Uint8Array>> {
  const res = new Map<string, Map<string, Uint8Array>>();
  let cur: Map<string, Uint8Array> | null = null;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = new Map();
      res.set(unescapeOctal(line.slice('# file: '.length)), cur);
    } else if (line !== '' && cur !== null) {
      const eq = line.lastIndexOf('=');
      const name = unescapeOctal(eq < 0 ? line : line.slice(0, eq));
      const v = eq < 0 ? '' : line.slice(eq + 1);
      if (v !== '' && !v.startsWith('0x')) throw new Oci2fsError(ErrorCode.INTERNAL, `unexpected getfattr value for ${name}: ${v.slice(0, 20)}`);
      cur.set(name, new Uint8Array(Buffer.from(v.slice(2), 'hex')));
    }
  }
  return res;
}

/**
 * Xattrs of every entry under `rootBytes` (byte-string absolute path),
 * keyed by byte-string path. Without getfattr: an empty map and a warning.
 */
export async function readXattrTree(rootBytes: string, events?: ProgressListener): Promise<Map<string, Map<string, Uint8Array>>> {
  const root = Buffer.from(rootBytes, 'latin1').toString('utf8');
  const { code, stdout, stderr, missing } = await new Promise<{ code: number; stdout: string; stderr: string; missing: boolean }>((resolve) => {
    const child = spawn(GETFATTR, ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', () => resolve({ code: -1, stdout: '', stderr: '', missing: true }));
    child.on('close', (c) => resolve({ code: c ?? -1, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('utf8'), missing: false }));
  });
  if (missing) {
    events?.({ type: 'warning', code: 'W_NO_XATTR_TOOLS', message: `${GETFATTR} (package attr) is not installed: extended attributes of ${root} are not read` });
    return new Map();
  }
  if (code !== 0 && stderr.trim() !== '') {
    events?.({ type: 'warning', code: 'W_XATTR_READ', message: `getfattr reported problems reading xattrs under ${root}: ${stderr.trim().split('\n')[0]}` });
  }
  return parseGetfattr(stdout);
}
