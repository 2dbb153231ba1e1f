/**
 * Options shared by the commands that reach images and the store (pull,
 * digest, inspect, images, verify, import...): their parseArgs specs, usage
 * text, and translation into library options.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { ProgressListener } from '../events.js';
import { parsePlatform } from '../image/index.js';
import { parseReference, type ImageReference } from '../reference/index.js';
import type { SourceOptions } from '../source/index.js';
import { Store } from '../store/index.js';

/** --store only (images, verify). */
export const STORE_OPTIONS = {
  store: { type: 'string' },
} as const;

/** Everything needed to reach an image (pull, digest, inspect, import). */
export const SOURCE_OPTIONS = {
  ...STORE_OPTIONS,
  platform: { type: 'string' },
  creds: { type: 'string' },
  authfile: { type: 'string' },
  'insecure-registry': { type: 'string', multiple: true },
  'registries-conf': { type: 'string' },
  jobs: { type: 'string', short: 'j' },
  offline: { type: 'boolean' },
} as const;

/** Result formatting. */
export const OUTPUT_OPTIONS = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

export const STORE_USAGE = `Store:
  --store DIR                content store (default $OCI2FS_STORE, else
                             $XDG_CACHE_HOME/oci2fs, else ~/.cache/oci2fs)`;

export const SOURCE_USAGE = `${STORE_USAGE}
Source:
  --platform OS/ARCH[/VAR]   image platform to select from an index (default: this host's)
  --creds USER[:PASSWORD]    registry credentials (else auth.json, Docker config, netrc)
  --authfile PATH            containers auth.json to read credentials from
  --insecure-registry HOST   HTTPS without certificate checks, or plain HTTP if HOST has no TLS (repeatable)
  --registries-conf PATH     containers registries.conf (mirrors, insecure registries)
  -j, --jobs N               layers downloaded at once (default 4)
  --offline                  use only what the store holds; never touch the network`;

export const OUTPUT_USAGE = `Output:
  --json                     print one JSON object
  -q, --quiet                no progress display`;

/** Largest --jobs accepted. */
export const MAX_JOBS = 64;

/** Opens the store named by --store (or the default location). */
export function openStore(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<Store> {
  return Store.open(values.store as string | undefined, env);
}

/** --jobs as a number (undefined when not given). */
export function jobsOption(values: Record<string, unknown>): number | undefined {
  const raw = values.jobs as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_JOBS) throw new Oci2fsError(ErrorCode.USAGE, `--jobs must be an integer from 1 to ${MAX_JOBS}, not "${raw}"`);
  return n;
}

/** SourceOptions from the parsed SOURCE_OPTIONS. */
export function sourceOptions(values: Record<string, unknown>, env: NodeJS.ProcessEnv, store: Store, events?: ProgressListener): SourceOptions {
  const opts: SourceOptions = { ...sourceOptionsFrom(values, env), store };
  if (events) opts.events = events;
  return opts;
}

/** The parsed SOURCE_OPTIONS as SourceOptions without the store and the listener. */
export function sourceOptionsFrom(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Omit<SourceOptions, 'store' | 'events'> {
  const opts: Omit<SourceOptions, 'store' | 'events'> = { env };
  if (values.platform !== undefined) opts.platform = parsePlatform(values.platform as string);
  const jobs = jobsOption(values);
  if (jobs !== undefined) opts.jobs = jobs;
  if (values.offline) opts.offline = true;
  if (values.creds !== undefined) {
    // USER alone is fine: the password is then looked up for USER in the other credential sources.
    opts.creds = values.creds as string;
  }
  if (values.authfile !== undefined) opts.authfile = values.authfile as string;
  const insecure = values['insecure-registry'] as string[] | undefined;
  if (insecure?.length) opts.insecureRegistries = insecure;
  if (values['registries-conf'] !== undefined) opts.registriesConf = values['registries-conf'] as string;
  return opts;
}

/** The single REF positional of a command. */
export function imageArgument(positionals: string[], command: string): ImageReference {
  if (positionals.length !== 1) {
    throw new Oci2fsError(ErrorCode.USAGE, `${command} takes exactly one image reference (got ${positionals.length}); run \`oci2fs ${command} --help\``);
  }
  return parseReference(positionals[0]);
}
