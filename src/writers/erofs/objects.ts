/**
 * composefs content objects: each regular file not stored inline is
 * referenced by its fs-verity digest. This pass finds (or computes) the
 * digests and, given an objects directory, copies each content once to
 * `OBJECTS/XX/REST` (temp file + rename, existing objects are kept).
 */
import { mkdir, open, rename, lstat, unlink, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { readFile } from '../../tree/content.js';
import { walk, type FileInode, type ValidatedTree } from '../../tree/types.js';
import { createFsverityHasher } from '../../fsverity/index.js';
import { digestPayload, knownDigest, storedInline } from '../../dumpfile/index.js';

/** How one regular file is referenced from the image. */
export interface ObjectRef {
  /** Object path `XX/REST` (or the dumpfile payload for external content); '' for none. */
  payload: string;
  /** fs-verity digest (hex), when known. */
  digest?: string;
}

export interface ObjectsResult {
  refs: Map<FileInode, ObjectRef>;
  /** Objects written by this call. */
  newObjects: number;
  /** Distinct objects referenced by the image. */
  objects: number;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

let tmpCounter = 0;

/** Streams a file's content into `tmp` (if given) while computing its fs-verity digest. */
async function hashAndMaybeCopy(f: FileInode, tmp: string | null): Promise<string> {
  const h = createFsverityHasher();
  const fh = tmp ? await open(tmp, 'wx', 0o644) : null;
  try {
    for await (const chunk of readFile(f)) {
      h.update(chunk);
      if (fh) {
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      }
    }
  } finally {
    await fh?.close();
  }
  return h.digest().toString('hex');
}

/**
 * Resolves the object reference of every regular file stored by reference
 * (not inline, size > 0), computing digests that are not known and copying
 * contents into `objectsDir` when given.
 */
export async function prepareObjects(
  tree: ValidatedTree,
  opts: { objectsDir?: string; digests?: Map<FileInode, string>; inlineMax?: number },
): Promise<ObjectsResult> {
  const files: FileInode[] = [];
  const seen = new Set<FileInode>();
  walk(tree.root, (_p, inode) => {
    if (inode.kind === 'file' && !seen.has(inode)) {
      seen.add(inode);
      files.push(inode);
    }
  });
  const refs = new Map<FileInode, ObjectRef>();
  const distinct = new Set<string>();
  let newObjects = 0;
  if (opts.objectsDir) await mkdir(opts.objectsDir, { recursive: true });
  for (const f of files) {
    if (f.size === 0 || storedInline(f, opts.inlineMax)) continue;
    let digest = knownDigest(f, opts.digests);
    if (f.content.kind === 'external') {
      refs.set(f, { payload: f.content.payload, ...(digest ? { digest } : {}) });
      if (f.content.payload !== '') distinct.add(f.content.payload);
      continue;
    }
    if (opts.objectsDir) {
      const dir = opts.objectsDir;
      if (digest && (await exists(join(dir, digestPayload(digest))))) {
        // Already stored: nothing to read.
      } else {
        const tmp = join(dir, `.tmp-${process.pid}-${tmpCounter++}`);
        try {
          const actual = await hashAndMaybeCopy(f, tmp);
          if (digest && actual !== digest) {
            throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `Content has fs-verity digest ${actual}, expected ${digest}: the file changed or the digest cache is stale`);
          }
          digest = actual;
          const dest = join(dir, digestPayload(digest));
          if (await exists(dest)) {
            await unlink(tmp);
          } else {
            await mkdir(join(dir, digest.slice(0, 2)), { recursive: true });
            await chmod(tmp, 0o644);
            await rename(tmp, dest);
            newObjects++;
          }
        } catch (e) {
          await unlink(tmp).catch(() => undefined);
          throw e;
        }
      }
    } else if (!digest) {
      digest = await hashAndMaybeCopy(f, null);
    }
    const payload = digestPayload(digest as string);
    refs.set(f, { payload, digest });
    distinct.add(payload);
  }
  return { refs, newObjects, objects: distinct.size };
}
