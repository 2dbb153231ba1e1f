/**
 * A canonical one-line-per-entry text form of a tree, used as the golden
 * description of quirk cases and to compare trees from different sources
 * (layers, scanned directories, re-imported tars).
 *
 * Line: PATH TYPE MODE UID:GID MTIME DETAIL [xattr NAME=HEX]...
 * - PATH: bytes < 0x20, >= 0x7f and "\" escaped as \xNN.
 * - MODE: 4 octal digits; MTIME: SEC.NNNNNNNNN.
 * - DETAIL: file `size=N data=ESCAPED` (<= 32 bytes) or `size=N sha256=PREFIX`;
 *   symlink `-> TARGET`; devices `MAJ,MIN`; a second (third...) path of a
 *   hardlinked inode is only `PATH link=FIRSTPATH`.
 */
import { readAll } from '../../src/tree/content.js';
import { walk } from '../../src/tree/types.js';
import type { DirInode, Inode } from '../../src/tree/types.js';
import { sha256 } from './tarbuild.js';

export function esc(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 0x20 || c >= 0x7f || c === 0x5c ? `\\x${c.toString(16).padStart(2, '0')}` : s[i];
  }
  return out;
}

export interface DescribeOptions {
  /** Leave the root directory's line out (for sources with another root rule). */
  skipRoot?: boolean;
  /** Drop these xattr names (e.g. security.selinux added by a host). */
  ignoreXattrs?: (name: string) => boolean;
}

/** The golden text of a tree (async: small file contents are read). */
export async function describeTree(root: DirInode, opts: DescribeOptions = {}): Promise<string> {
  const items: [string, Inode][] = [];
  walk(root, (p, inode) => items.push([p, inode]));
  const first = new Map<Inode, string>();
  const lines: string[] = [];
  for (const [p, inode] of items) {
    if (opts.skipRoot && p === '/') continue;
    const seen = first.get(inode);
    if (seen !== undefined) {
      lines.push(`${esc(p)} link=${esc(seen)}`);
      continue;
    }
    first.set(inode, p);
    let detail = '';
    switch (inode.kind) {
      case 'file': {
        const data = await readAll(inode);
        detail = data.length <= 32 ? `size=${inode.size} data=${esc(data.toString('latin1'))}` : `size=${inode.size} sha256=${sha256(data).slice(0, 16)}`;
        break;
      }
      case 'symlink':
        detail = `-> ${esc(inode.target)}`;
        break;
      case 'chardev':
      case 'blockdev':
        detail = `${inode.rdevMajor},${inode.rdevMinor}`;
        break;
      default:
        detail = '';
    }
    const xs = [...inode.xattrs.entries()]
      .filter(([k]) => !(opts.ignoreXattrs?.(k) ?? false))
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => ` xattr ${esc(k)}=${Buffer.from(v).toString('hex')}`)
      .join('');
    const mode = inode.mode.toString(8).padStart(4, '0');
    const mt = `${inode.mtimeSec}.${String(inode.mtimeNsec).padStart(9, '0')}`;
    lines.push(`${esc(p)} ${inode.kind} ${mode} ${inode.uid}:${inode.gid} ${mt}${detail ? ' ' + detail : ''}${xs}`);
  }
  return lines.join('\n') + '\n';
}
