/**
 * Image configuration (OCI image-spec config.md; Docker's image JSON is the
 * same shape): the fields oci2fs uses, validated.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { isJsonObject, stringMap } from './json.js';
import type { JsonObject } from './json.js';
import { parseDigest } from './digest.js';

/**
 * Largest config blob we parse in memory. Configs are usually a few KiB; long
 * histories reach hundreds. 8 MiB bounds memory against a hostile registry.
 */
export const CONFIG_MAX_BYTES = 8 * 1024 * 1024;

/** The execution parameters (`config` object). Names as in the JSON. */
export interface ContainerConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
  Volumes?: string[];
  ExposedPorts?: string[];
  StopSignal?: string;
}

export interface HistoryEntry {
  created?: string;
  createdBy?: string;
  comment?: string;
  emptyLayer: boolean;
}

export interface ImageConfig {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
  created?: string;
  author?: string;
  config: ContainerConfig;
  /** rootfs.diff_ids: digests of the uncompressed layer tars, in layer order. */
  diffIds: string[];
  history: HistoryEntry[];
}

const WHERE = 'image config';

function bad(problem: string): never {
  throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `${WHERE}: ${problem}`);
}

function optString(o: JsonObject, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') bad(`${where}${key} must be a string`);
  return v;
}

function optStringArray(o: JsonObject, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(`${where}${key} must be an array of strings`);
  return [...v] as string[];
}

/** `{ "path": {} }` set-style objects → sorted keys. */
function optKeySet(o: JsonObject, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) bad(`${where}${key} must be an object`);
  return Object.keys(v).sort();
}

function parseContainerConfig(v: unknown): ContainerConfig {
  if (v === undefined || v === null) return {};
  if (!isJsonObject(v)) bad('config must be an object');
  const w = 'config.';
  const c: ContainerConfig = {};
  const set = <K extends keyof ContainerConfig>(k: K, val: ContainerConfig[K] | undefined): void => {
    if (val !== undefined) c[k] = val;
  };
  set('User', optString(v, 'User', w));
  set('Env', optStringArray(v, 'Env', w));
  set('Entrypoint', optStringArray(v, 'Entrypoint', w));
  set('Cmd', optStringArray(v, 'Cmd', w));
  set('WorkingDir', optString(v, 'WorkingDir', w));
  set('Labels', stringMap(v.Labels, `${WHERE} config.Labels`));
  set('Volumes', optKeySet(v, 'Volumes', w));
  set('ExposedPorts', optKeySet(v, 'ExposedPorts', w));
  set('StopSignal', optString(v, 'StopSignal', w));
  return c;
}

/**
 * Parses an image config blob. Throws E_LIMIT when too large and
 * E_MANIFEST_INVALID when malformed (missing os/architecture, bad diff_ids...).
 */
export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  if (bytes.length > CONFIG_MAX_BYTES) {
    throw new Oci2fsError(ErrorCode.LIMIT, `Image config is ${bytes.length} bytes, over the ${CONFIG_MAX_BYTES}-byte limit`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch (e) {
    throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `${WHERE}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (!isJsonObject(doc)) bad('must be a JSON object');
  const os = optString(doc, 'os', '');
  const architecture = optString(doc, 'architecture', '');
  if (!os) bad('"os" is missing');
  if (!architecture) bad('"architecture" is missing');
  const rootfs = doc.rootfs;
  if (!isJsonObject(rootfs)) bad('"rootfs" is missing');
  if (rootfs.type !== 'layers') bad(`rootfs.type ${JSON.stringify(rootfs.type)} is not "layers"`);
  if (!Array.isArray(rootfs.diff_ids)) bad('rootfs.diff_ids must be an array');
  const diffIds = (rootfs.diff_ids as unknown[]).map((d, i) => {
    if (typeof d !== 'string') bad(`rootfs.diff_ids[${i}] must be a string`);
    parseDigest(d, `${WHERE} rootfs.diff_ids[${i}]`);
    return d;
  });
  const history: HistoryEntry[] = [];
  if (doc.history !== undefined && doc.history !== null) {
    if (!Array.isArray(doc.history)) bad('history must be an array');
    (doc.history as unknown[]).forEach((h, i) => {
      if (!isJsonObject(h)) bad(`history[${i}] must be an object`);
      const w = `history[${i}].`;
      const e: HistoryEntry = { emptyLayer: h.empty_layer === true };
      const created = optString(h, 'created', w);
      const createdBy = optString(h, 'created_by', w);
      const comment = optString(h, 'comment', w);
      if (created !== undefined) e.created = created;
      if (createdBy !== undefined) e.createdBy = createdBy;
      if (comment !== undefined) e.comment = comment;
      history.push(e);
    });
  }
  const cfg: ImageConfig = { os, architecture, config: parseContainerConfig(doc.config), diffIds, history };
  const variant = optString(doc, 'variant', '');
  const osVersion = optString(doc, 'os.version', '');
  const created = optString(doc, 'created', '');
  const author = optString(doc, 'author', '');
  if (variant) cfg.variant = variant;
  if (osVersion) cfg.osVersion = osVersion;
  if (created !== undefined) cfg.created = created;
  if (author !== undefined) cfg.author = author;
  return cfg;
}
