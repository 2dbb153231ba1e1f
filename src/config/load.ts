/** Finding and reading registries.conf (containers-registries.conf(5) search order). */
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, Oci2fsError } from '../errors.js';
import { parseRegistriesConf, type ParsedRegistriesConf } from './parse.js';
import { createRegistriesConfig, type RegistriesConfig } from './registries.js';

/** The system-wide file, used when the user has none. */
export const SYSTEM_REGISTRIES_CONF = '/etc/containers/registries.conf';

export interface LoadRegistriesOptions {
  /** An explicit file (e.g. --registries-conf); it must exist. */
  path?: string;
  /** Environment (defaults to process.env): CONTAINERS_REGISTRIES_CONF, XDG_CONFIG_HOME. */
  env?: NodeJS.ProcessEnv;
  /** Home directory (defaults to os.homedir()). */
  homeDir?: string;
  /** Hosts from --insecure-registry. */
  insecureRegistries?: string[];
  /** The system-wide file (defaults to SYSTEM_REGISTRIES_CONF; tests point it elsewhere). */
  systemPath?: string;
}

async function read(path: string, required: boolean): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    throw new Oci2fsError(ErrorCode.USAGE, `cannot read registries configuration ${path} (${code ?? 'error'})`, { cause: e });
  }
}

/**
 * The file in use: `opts.path`, else `$CONTAINERS_REGISTRIES_CONF` (both must
 * exist), else the user's `${XDG_CONFIG_HOME:-~/.config}/containers/registries.conf`
 * when it exists, else the system file when it exists, else none.
 */
export async function findRegistriesConf(opts: LoadRegistriesOptions): Promise<{ path: string; text: string } | undefined> {
  const env = opts.env ?? process.env;
  const explicit = opts.path ?? (env.CONTAINERS_REGISTRIES_CONF || undefined);
  if (explicit !== undefined) return { path: explicit, text: (await read(explicit, true)) as string };
  const home = opts.homeDir ?? homedir();
  const user = join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers', 'registries.conf');
  for (const path of [user, opts.systemPath ?? SYSTEM_REGISTRIES_CONF]) {
    const text = await read(path, false);
    if (text !== undefined) return { path, text };
  }
  return undefined;
}

/** Drop-in files of `path`: `<path>.d/*.conf`, in byte order of their names (containers-registries.conf.d(5)). */
async function dropIns(path: string): Promise<string[]> {
  const dir = `${path}.d`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.conf'))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((n) => join(dir, n));
}

/**
 * Merge a drop-in over what came before: a `[[registry]]` table replaces the
 * one with the same prefix (else it is added), v1 lists are appended.
 */
function merge(base: ParsedRegistriesConf, over: ParsedRegistriesConf): ParsedRegistriesConf {
  const entries = [...base.entries];
  for (const e of over.entries) {
    const i = entries.findIndex((x) => x.prefix === e.prefix);
    if (i >= 0) entries[i] = e;
    else entries.push(e);
  }
  return {
    entries,
    insecureRegistries: [...base.insecureRegistries, ...over.insecureRegistries],
    blockedRegistries: [...base.blockedRegistries, ...over.blockedRegistries],
  };
}

/**
 * Load the registries configuration: the file findRegistriesConf picks, then
 * its drop-ins `<file>.d/*.conf` (missing default files give an empty
 * configuration).
 */
export async function loadRegistriesConfig(opts: LoadRegistriesOptions = {}): Promise<RegistriesConfig> {
  const found = await findRegistriesConf(opts);
  let parsed: ParsedRegistriesConf = found ? parseRegistriesConf(found.path, found.text) : { entries: [], insecureRegistries: [], blockedRegistries: [] };
  if (found) {
    for (const file of await dropIns(found.path)) {
      const text = await read(file, false);
      if (text !== undefined) parsed = merge(parsed, parseRegistriesConf(file, text));
    }
  }
  return createRegistriesConfig({
    entries: parsed.entries,
    insecureRegistries: [...parsed.insecureRegistries, ...(opts.insecureRegistries ?? [])],
    blockedRegistries: parsed.blockedRegistries,
    source: found?.path,
  });
}
