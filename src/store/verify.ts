/**
 * `oci2fs verify`: re-hash every blob under blobs/sha256 and check that each
 * named image in index.json is complete (manifest, config, layers; for an
 * index, its child manifests).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from './atomic.js';
import { refNameOf, type StoreDescriptor } from './index-json.js';
import { BLOBS_DIR, DIGEST_ALGORITHM } from './layout.js';

export interface VerifyProblem {
  digest: string;
  problem: string;
}

export interface VerifyReport {
  /** Blobs whose content matches their name. */
  ok: number;
  bad: VerifyProblem[];
}

/** Largest manifest/index we parse while checking completeness (image-spec suggests 4 MiB). */
const MAX_MANIFEST_BYTES = 4 << 20;
const HEX64 = /^[a-f0-9]{64}$/;

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

interface Child {
  digest: string;
  size: number;
}

/** The blobs a manifest or index document points to (lenient: only well-formed entries). */
function childrenOf(bytes: Buffer): Child[] {
  let doc: { config?: Child; layers?: Child[]; manifests?: Child[] };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    return [];
  }
  const out: Child[] = [];
  const add = (c: unknown) => {
    const d = c as Child;
    if (d && typeof d.digest === 'string' && typeof d.size === 'number') out.push(d);
  };
  add(doc.config);
  for (const l of Array.isArray(doc.layers) ? doc.layers : []) add(l);
  return out;
}

export async function verifyStore(
  root: string,
  refs: StoreDescriptor[],
  opts: { repair?: boolean; onBlob?: (digest: string) => void },
): Promise<VerifyReport> {
  const dir = join(root, BLOBS_DIR, DIGEST_ALGORITHM);
  const bad: VerifyProblem[] = [];
  const good = new Map<string, number>();
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw ioError(`list ${dir}`, e);
  }
  for (const name of names) {
    const digest = `${DIGEST_ALGORITHM}:${name}`;
    const path = join(dir, name);
    opts.onBlob?.(digest);
    if (!HEX64.test(name)) {
      bad.push({ digest: name, problem: `unexpected file ${path} (not a sha256 digest name)` });
      continue;
    }
    const st = await stat(path);
    if (!st.isFile()) {
      bad.push({ digest, problem: 'not a regular file' });
      continue;
    }
    const actual = await hashFile(path);
    if (actual !== name) {
      bad.push({ digest, problem: `content hashes to sha256:${actual} (${st.size} bytes)${opts.repair ? '; removed' : ''}` });
      if (opts.repair) await unlink(path).catch(() => {});
      continue;
    }
    good.set(digest, st.size);
  }
  // Completeness of named images: walk manifest → children, index → manifests.
  const seen = new Set<string>();
  const walk = async (d: Child, owner: string, depth: number): Promise<void> => {
    if (seen.has(d.digest) || depth > 2) return;
    seen.add(d.digest);
    const size = good.get(d.digest);
    if (size === undefined) {
      if (!bad.some((b) => b.digest === d.digest)) bad.push({ digest: d.digest, problem: `missing (needed by ${owner})` });
      return;
    }
    if (size !== d.size) {
      bad.push({ digest: d.digest, problem: `has ${size} bytes, ${owner} says ${d.size}` });
      return;
    }
    if (depth > 0 || size > MAX_MANIFEST_BYTES) return;
    const bytes = await readFile(join(dir, d.digest.slice(DIGEST_ALGORITHM.length + 1)));
    for (const c of childrenOf(bytes)) await walk(c, owner, depth + 1);
  };
  for (const r of refs) await walk(r, `ref ${refNameOf(r) ?? r.digest}`, 0);
  return { ok: good.size, bad };
}
