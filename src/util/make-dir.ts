/**
 * `mkdir -p` for paths users give us. node's own recursive mkdir (20.x)
 * never returns for a directory that cannot be created under an existing
 * one that refuses it with ENOENT (`/proc/x`: it creates the parent, which
 * exists, and tries again forever). This one walks up once per missing
 * component and reports the error of the directory that cannot be made.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Creates `dir` and its missing parents; resolves when it is a directory. */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(dir)).isDirectory()) return;
      throw e;
    }
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw e;
    await makeDirectory(parent);
  }
  // the parent exists now: a second ENOENT is the directory's own error (procfs, a vanished parent)
  try {
    await mkdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw e;
  }
}
