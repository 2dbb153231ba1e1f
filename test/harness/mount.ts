/**
 * Kernel loop mounts for writer tests: mount an image, look at it, unmount;
 * or skip the test with the reason when this machine cannot mount (not
 * root, no loop devices, the kernel refuses).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * Loop-mounts `image` at `<dir>/mnt` (`readOnly` adds `ro`), runs `use` on
 * the mount point and unmounts, also when `use` throws. When mounting is not
 * possible the test is skipped with the reason and false is returned, so
 * callers stop there: `if (!(await withLoopMount(...))) return;`.
 */
export async function withLoopMount(
  t: TestContext,
  image: string,
  dir: string,
  opts: { readOnly?: boolean },
  use: (mnt: string) => void | Promise<void>,
): Promise<boolean> {
  if (process.getuid?.() !== 0) {
    t.skip('not root: no loop mount');
    return false;
  }
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-o', opts.readOnly ? 'loop,ro' : 'loop', image, mnt], { stdio: 'ignore' });
  } catch (e) {
    t.skip(`loop mount failed: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
  try {
    await use(mnt);
  } finally {
    execFileSync('umount', [mnt]);
  }
  return true;
}
