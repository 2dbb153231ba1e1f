/**
 * The configuration files `enroot import` writes into a root filesystem
 * (enroot src/docker.sh, `docker::configure`), byte for byte:
 *  - /etc/environment: one `Env` entry per line (jq -r '.config.Env[]');
 *  - /etc/fstab: one line per volume, volumes sorted (jq `keys`):
 *      ${ENROOT_ROOTFS}VOL VOL none x-create=dir,bind,rw,nosuid,nodev
 *    ("${ENROOT_ROOTFS}" literally: enroot expands it at start time);
 *  - /etc/rc: labels as "# KEY VALUE" comment lines (plus a blank line when
 *    there are any), then the start script: cd to the working directory
 *    (default "/"), source /etc/rc.local, exec entrypoint + "$@" or
 *    entrypoint + cmd; words quoted with bash's ${x@Q}; when both entrypoint
 *    and cmd are empty the command is /bin/sh;
 *  - /etc/rc.local: two comment lines.
 * enroot also creates the working directory (mkdir -p).
 */
import { bashQuote } from './shell-quote.js';

export interface EnrootConfig {
  env: string[];
  workingDir?: string;
  entrypoint?: string[];
  cmd?: string[];
  volumes?: string[];
  /** Image labels in config order (written as comments at the top of /etc/rc). */
  labels?: [string, string][];
}

/** Generated files: absolute path → content (UTF-8 text). */
export function enrootFiles(c: EnrootConfig): Map<string, string> {
  const files = new Map<string, string>();
  const byteOrder = (a: string, b: string): number => {
    const x = Buffer.from(a, 'utf8');
    const y = Buffer.from(b, 'utf8');
    return Buffer.compare(x, y);
  };
  const volumes = [...new Set(c.volumes ?? [])].sort(byteOrder);
  files.set('/etc/fstab', volumes.map((v) => `\${ENROOT_ROOTFS}${v} ${v} none x-create=dir,bind,rw,nosuid,nodev\n`).join(''));
  files.set('/etc/environment', c.env.map((e) => `${e}\n`).join(''));

  const workdir = c.workingDir || '/';
  const entrypoint = c.entrypoint ?? [];
  let cmd = c.cmd ?? [];
  if (entrypoint.length === 0 && cmd.length === 0) cmd = ['/bin/sh'];
  const ep = entrypoint.map(bashQuote).join(' ');
  const cm = cmd.map(bashQuote).join(' ');
  let rc = (c.labels ?? []).map(([k, v]) => `# ${k} ${v}\n`).join('');
  if (rc !== '') rc += '\n';
  rc +=
    `mkdir -p "${workdir}" 2> /dev/null\n` +
    `cd "${workdir}" && unset OLDPWD || exit 1\n` +
    '\n' +
    'if [ -s /etc/rc.local ]; then\n' +
    '    . /etc/rc.local\n' +
    'fi\n' +
    '\n' +
    'if [ $# -gt 0 ]; then\n' +
    `    exec ${ep} "$@"\n` +
    'else\n' +
    `    exec ${ep} ${cm}\n` +
    'fi\n';
  files.set('/etc/rc', rc);
  files.set(
    '/etc/rc.local',
    '# This file is sourced by /etc/rc when the container starts.\n' +
      '# It can be used to manipulate the entrypoint or the command of the container.\n',
  );
  return files;
}

/** The working directory enroot creates (mkdir -p), "/" when unset. */
export function enrootWorkdir(c: EnrootConfig): string {
  return c.workingDir || '/';
}
