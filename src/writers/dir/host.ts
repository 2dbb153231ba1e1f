/**
 * Host helpers of the dir writer: running the few external tools it needs
 * (mknod, touch), scratch names in the output root, and reaching a path
 * whose bytes are not UTF-8 from a command line (arguments are UTF-8).
 */
import { spawn } from 'node:child_process';
import { rename, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { DirInode } from '../../tree/types.js';

/** Runs `cmd args` in `cwd`; throws E_IO with its stderr when it fails. */
export function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new Oci2fsError(ErrorCode.IO, `Cannot run ${cmd}: ${e.message}`, { cause: e })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Oci2fsError(ErrorCode.IO, `${cmd} ${args.join(' ')} failed in ${cwd}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
  });
}

/** Scratch names in the output root that no entry of the tree uses. */
export class TmpNames {
  private n = 0;
  constructor(private readonly root: DirInode) {}
  next(): string {
    for (;;) {
      const name = `.oci2fs-tmp-${process.pid}-${this.n++}`;
      if (!this.root.children.has(name)) return name;
    }
  }
}

/**
 * Calls `fn` with a UTF-8 path (relative to outDir) that reaches the entry
 * at raw-bytes `rel`: `rel` itself when it is UTF-8, else through a scratch
 * symlink to its parent directory and, when the name itself is not UTF-8, a
 * scratch name the entry is renamed to (same directory) for the call.
 */
export async function withUtf8Path(outDir: string, tmp: TmpNames, rel: Buffer, isUtf8: (b: Buffer) => boolean, fn: (p: string) => Promise<void>): Promise<void> {
  if (isUtf8(rel)) return fn(rel.toString('utf8'));
  const slash = rel.lastIndexOf(0x2f);
  const parent = slash < 0 ? Buffer.from('.') : rel.subarray(0, slash);
  const name = slash < 0 ? rel : rel.subarray(slash + 1);
  const base = Buffer.from(outDir + '/');
  const linkName = tmp.next();
  await symlink(parent, join(outDir, linkName));
  try {
    if (isUtf8(name)) return await fn(`${linkName}/${name.toString('utf8')}`);
    const t = tmp.next();
    const from = Buffer.concat([base, parent, Buffer.from('/'), name]);
    const to = Buffer.concat([base, parent, Buffer.from('/' + t)]);
    await rename(from, to);
    try {
      await fn(`${linkName}/${t}`);
    } finally {
      await rename(to, from);
    }
  } finally {
    await unlink(join(outDir, linkName));
  }
}
