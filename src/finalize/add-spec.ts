/**
 * `--add SRC:DEST[:MODE[:UID:GID]]`: host file or directory SRC placed at
 * DEST in the image. MODE is octal (e.g. 0755 or 4755); UID and GID are
 * decimal and come together. SRC and DEST cannot contain ":".
 */
import { Oci2fsError, ErrorCode } from '../errors.js';

export interface AddSpec {
  src: string;
  dest: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** Largest id accepted (32-bit, excluding (uid_t)-1; see tree/validate.ts). */
const ID_MAX = 0xfffffffe;

function usage(s: string, what: string): Oci2fsError {
  return new Oci2fsError(ErrorCode.USAGE, `Invalid --add ${JSON.stringify(s)}: ${what}; expected SRC:DEST[:MODE[:UID:GID]], e.g. ./tool:/usr/local/bin/tool:0755:0:0`);
}

export function parseAddSpec(s: string): AddSpec {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length === 4 || parts.length > 5) throw usage(s, 'wrong number of fields');
  const [src, dest, mode, uid, gid] = parts;
  if (src === '') throw usage(s, 'SRC is empty');
  if (!dest.startsWith('/') || dest === '/') throw usage(s, 'DEST must be an absolute path below /');
  const out: AddSpec = { src, dest };
  if (mode !== undefined) {
    if (!/^[0-7]{1,4}$/.test(mode)) throw usage(s, `MODE ${JSON.stringify(mode)} is not octal 0..7777`);
    out.mode = parseInt(mode, 8);
  }
  if (uid !== undefined) {
    for (const [k, v] of [['UID', uid], ['GID', gid]] as const) {
      if (!/^\d{1,10}$/.test(v) || Number(v) > ID_MAX) throw usage(s, `${k} ${JSON.stringify(v)} is not a number 0..${ID_MAX}`);
    }
    out.uid = Number(uid);
    out.gid = Number(gid);
  }
  return out;
}
