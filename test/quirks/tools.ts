/** Which host tools the quirk tests can use (they skip visibly without them). */
import { spawnSync } from 'node:child_process';

const has = (cmd: string, arg = '--version'): boolean => {
  const r = spawnSync(cmd, [arg], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
};

/** getfattr and setfattr (Debian package attr): needed to read/write xattrs. */
export const HAVE_ATTR = has('getfattr') && has('setfattr');
export const NO_ATTR = 'getfattr/setfattr (package attr) not installed';
export const HAVE_UMOCI = has('umoci', '--version');
export const IS_ROOT = process.getuid?.() === 0;
