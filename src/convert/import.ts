/**
 * `importImage`: reference → finalized tree → image file, through the
 * conversion cache. The one library entry point behind `oci2fs import` and
 * the pyxis importer.
 *
 * Order of work (docs/cache.md): resolve the manifest and config (one
 * registry round trip, none offline or for a digest already stored) → compute
 * the cache key → on a hit, deliver the cached file; on a miss, take the
 * producer lock for the key, check again, then download layers, spill them,
 * flatten, finalize, write, and commit the artifact.
 */
import { createReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { makeDirectory } from '../util/make-dir.js';
import { dirname, resolve } from 'node:path';
import type { ImageReference } from '../reference/index.js';
import { formatReference, enrootUri } from '../reference/index.js';
import type { Store } from '../store/index.js';
import { resolveImage, startFetch, recordImage, type SourceOptions, type ResolvedImage } from '../source/index.js';
import { formatPlatform, sha256DigestOfStream } from '../image/index.js';
import type { AddSpec, FinalizeOptions } from '../finalize/finalize.js';
import { ArtifactCache, tempBeside, type Artifact, type DeliveryMethod } from '../cache/artifacts.js';
import { artifactKey } from '../cache/key.js';
import { handled } from '../util/deferred.js';
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { ProgressListener } from '../events.js';
import { type Format, isCacheable } from './formats.js';
import type { TreeResult } from './tree.js';
import { keyedWriterOptions, type WriterOptions } from './writer-options.js';

/** The conversion half of the pipeline, loaded only when something must be built. */
const builder = () =>
  Promise.all([import('./layers.js'), import('./tree.js'), import('./write.js'), import('./read-ahead.js')]).then(([l, t, w, r]) => ({ ...l, ...t, ...w, ...r }));

/** Starts loading what a build needs, `format`'s writer included; a failure shows where they are used. */
function preloadBuilder(format: Format): void {
  builder().then((b) => b.preloadWriter(format), () => undefined);
}

export interface ImportOptions {
  store: Store;
  /** Registry/source options (platform, credentials, jobs, offline...). */
  source: Omit<SourceOptions, 'store' | 'events'>;
  format: Format;
  output: string;
  /** Write /.enroot/source (default true). */
  provenance: boolean;
  /** Add enroot's /etc/environment, /etc/rc, /etc/fstab, /etc/rc.local. */
  enroot: boolean;
  add: AddSpec[];
  sourceDateEpoch?: number;
  lenient?: boolean;
  writer: WriterOptions;
  /** Use the conversion cache (default true for single-file formats). */
  cache: boolean;
  delivery: DeliveryMethod;
  events?: ProgressListener;
  /** Clock for cache metadata only (never reaches an image). */
  now?: () => Date;
}

export interface ImportResult {
  output: string;
  format: Format;
  canonical: string;
  cached: boolean;
  key?: string;
  manifestDigest?: string;
  configDigest?: string;
  platform?: string;
  facts: Record<string, string | number>;
  warnings: { code: string; message: string }[];
  /** Measurements of this run (`stat` events summed by name), when the writer made any; not cached. */
  stats?: Record<string, number>;
}

/** Finalize options that change the tree, in a form fit for the cache key. */
async function keyedFinalize(opts: ImportOptions, img: ResolvedImage): Promise<Record<string, unknown>> {
  const add = [];
  for (const a of opts.add) add.push({ ...a, src: await sha256DigestOfStream(createReadStream(a.src)) });
  return {
    enroot: opts.enroot ? enrootConfig(img) : null,
    add,
    sourceDateEpoch: opts.sourceDateEpoch ?? null,
    lenient: !!opts.lenient,
  };
}

function enrootConfig(img: ResolvedImage): NonNullable<FinalizeOptions['enroot']> {
  const c = img.config.config ?? {};
  return {
    env: c.Env ?? [],
    workingDir: c.WorkingDir,
    entrypoint: c.Entrypoint ?? undefined,
    cmd: c.Cmd ?? undefined,
    volumes: Object.keys(c.Volumes ?? {}).sort(),
  };
}

function provenanceOf(ref: ImageReference, img: ResolvedImage): NonNullable<FinalizeOptions['provenance']> {
  return {
    uri: ref.transport === 'docker' ? enrootUri(ref) : formatReference(ref),
    manifestDigest: img.manifestDigest,
    configDigest: img.configDigest,
    platform: formatPlatform(img.platform),
  };
}

/** Writes via a temp name beside `out`, renamed into place only after success. */
/** Creates the directory `out` goes in (and its parents). */
async function makeOutputDir(out: string): Promise<void> {
  await makeDirectory(dirname(out)).catch((e: unknown) => {
    throw new Oci2fsError(ErrorCode.IO, `Cannot create the directory of ${out}: ${(e as Error).message}`, { cause: e });
  });
}

async function writeAtomically(out: string, write: (tmp: string) => Promise<Record<string, string | number>>) {
  await makeOutputDir(out);
  const tmp = tempBeside(out);
  try {
    const facts = await write(tmp);
    await rename(tmp, out);
    return facts;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Builds the tree of an image and hands it to `use` (the writer). Spilled
 * layer tars from earlier runs are read ahead meanwhile (read-ahead.ts),
 * until `use` is done. Layers spilled by igzip are read before their diffID
 * check is done (see SpillPlan.ready): `use` gets `verified`, and must await
 * it before it publishes anything (renames its output into place, commits
 * an artifact). A failed check is the error, whatever else failed after it.
 */
async function withImageTree<T>(
  opts: ImportOptions,
  ref: ImageReference,
  img: ResolvedImage,
  use: (t: TreeResult, verified: Promise<void>) => Promise<T>,
): Promise<T> {
  const { startSpill, treeFromLayers, startReadAhead, preloadWriter } = await builder();
  preloadWriter(opts.format);
  const diffIds = img.config.diffIds;
  if (diffIds.length !== img.layers.length) {
    throw new Oci2fsError(
      ErrorCode.MANIFEST_INVALID,
      `Image ${formatReference(ref)} has ${img.layers.length} layers but its config lists ${diffIds.length} diff_ids`,
    );
  }
  const sourceOpts = { ...opts.source, store: opts.store, events: opts.events };
  // A layer is decoded as soon as its blob is downloaded (the others still downloading), and
  // flattened as soon as it is decoded, while later layers still decode.
  const fetch = await startFetch(img, sourceOpts);
  const recorded = handled(fetch.done.then(() => recordImage(ref, img, sourceOpts)));
  const spill = await startSpill(
    opts.store.root,
    img.layers.map((l, i) => ({ blobPath: fetch.paths[i], digest: l.digest, diffId: diffIds[i], fetched: fetch.fetched[i], size: l.size, mediaType: l.mediaType })),
    { events: opts.events },
  ).catch(async (e: unknown) => {
    await recorded.catch(() => undefined); // no download left running behind the error
    throw e;
  });
  // every layer fetched and checked, the image named in the store: only then may `use` publish
  const verified = handled(Promise.all([spill.done, recorded]).then(() => undefined));
  const ahead = startReadAhead(spill.present);
  let pending: Promise<unknown>[] = [];
  try {
    const tree = await treeFromLayers(
      spill.paths.map((path, i) => ({
        label: `layer ${i} (${img.layers[i].digest})`,
        path,
        ready: spill.ready[i],
        index: spill.indexes[i],
        captured: () => spill.takeCaptured(i),
      })),
      {
        provenance: opts.provenance ? provenanceOf(ref, img) : false,
        enroot: opts.enroot ? enrootConfig(img) : undefined,
        add: opts.add,
        sourceDateEpoch: opts.sourceDateEpoch,
      },
      { lenient: opts.lenient, events: opts.events, verified },
    );
    pending = tree.pending ?? [];
    return await use(tree, verified);
  } catch (e) {
    await verified; // a failed download or spill is the error to report (it throws here)
    throw e;
  } finally {
    await verified.catch(() => undefined); // no download or spill left running behind an error
    await Promise.all(pending);
    await spill.release();
    await ahead.stop();
  }
}

/** Imports `ref` as `opts.format` into `opts.output`. */
export async function importImage(ref: ImageReference, opts: ImportOptions): Promise<ImportResult> {
  const stats: Record<string, number> = {};
  const events: ProgressListener = (e) => {
    if (e.type === 'stat') stats[e.name] = (stats[e.name] ?? 0) + e.value;
    opts.events?.(e);
  };
  const r = await importOnce(ref, { ...opts, events });
  return Object.keys(stats).length > 0 ? { ...r, stats } : r;
}

async function importOnce(ref: ImageReference, opts: ImportOptions): Promise<ImportResult> {
  const output = resolve(opts.output);
  const now = opts.now ?? (() => new Date());
  const canonical = formatReference(ref);
  const writer = { ...opts.writer, events: opts.events };

  if (ref.transport === 'dir' || ref.transport === 'dumpfile') {
    const { treeFromDirectory, treeFromDumpfile, writeFormat } = await builder();
    const finalize: FinalizeOptions = {
      provenance: opts.provenance ? { uri: canonical, manifestDigest: '', configDigest: '', platform: '' } : false,
      add: opts.add,
      sourceDateEpoch: opts.sourceDateEpoch,
    };
    const t = ref.transport === 'dir' ? await treeFromDirectory(ref.path, finalize) : await treeFromDumpfile(ref.path, finalize);
    const facts = await writeAtomically(output, (tmp) => writeFormat(t.tree, opts.format, tmp, writer));
    return { output, format: opts.format, canonical, cached: false, facts, warnings: t.warnings };
  }

  // Without the cache a build is certain: its modules and writer load while the registry answers (~50 ms).
  if (!opts.cache || !isCacheable(opts.format)) preloadBuilder(opts.format);
  const img = await resolveImage(ref, { ...opts.source, store: opts.store, events: opts.events });
  const base = {
    output,
    format: opts.format,
    canonical: img.canonical,
    manifestDigest: img.manifestDigest,
    configDigest: img.configDigest,
    platform: formatPlatform(img.platform),
  };

  if (!opts.cache || !isCacheable(opts.format)) {
    const { writeFormat } = await builder();
    return withImageTree(opts, ref, img, async (t, verified) => {
      const facts = await writeAtomically(output, async (tmp) => {
        const written = await writeFormat(t.tree, opts.format, tmp, writer);
        await verified;
        return written;
      });
      return { ...base, cached: false, facts, warnings: t.warnings };
    });
  }

  const key = artifactKey({
    configDigest: img.configDigest,
    platform: base.platform,
    format: opts.format,
    writerOptions: keyedWriterOptions(opts.format, opts.writer),
    provenance: opts.provenance ? JSON.stringify(provenanceOf(ref, img)) : null,
    finalize: await keyedFinalize(opts, img),
  });
  const cache = new ArtifactCache(opts.store.root);
  let artifact: Artifact | undefined = await cache.lookup(key);
  let warnings: TreeResult['warnings'] = [];
  // A hit is an artifact this process did not build: found at once, or
  // built by another process while this one waited for the producer lock.
  let hit = artifact !== undefined;
  // A fresh artifact is written together with the copy `output` gets (no
  // reading it back to copy it afterwards: 2 s for a 380 MB squashfs image
  // here); a hardlink delivery needs no copy.
  const mirror = opts.delivery === 'hardlink' ? undefined : tempBeside(output);
  let mirrored = false;
  const buildOrWait = async (work: () => Promise<Artifact>): Promise<Artifact> => {
    try {
      return await opts.store.withLock(`artifact-${key}`, work);
    } catch (e) {
      if (mirror !== undefined) await rm(mirror, { force: true }); // nothing half-written beside the output
      throw e;
    }
  };
  if (!artifact) {
    // like writeAtomically: the output's directory is made, and before the build, not after it
    if (mirror !== undefined) await makeOutputDir(output);
    opts.events?.({ type: 'cache-wait', key });
    artifact = await buildOrWait(async () => {
      const again = await cache.lookup(key);
      hit = again !== undefined;
      if (again) return again;
      const { writeFormat } = await builder();
      return withImageTree(opts, ref, img, (t, verified) => {
        warnings = t.warnings;
        return cache.commit(
          {
            key,
            format: opts.format,
            file: `image${opts.format === 'composefs' ? '.cfs' : ''}`,
            canonical: img.canonical,
            manifestDigest: img.manifestDigest,
            configDigest: img.configDigest,
            platform: base.platform,
          },
          async (tmp) => {
            const facts = await writeFormat(t.tree, opts.format, tmp, writer, mirror);
            await verified; // before the commit makes it an artifact
            mirrored = mirror !== undefined;
            return facts;
          },
          now(),
        );
      });
    });
  } else {
    opts.events?.({ type: 'cache-hit', key, path: artifact.path });
  }
  if (mirrored && mirror !== undefined) await cache.adoptDelivery(mirror, output);
  else await cache.deliver(artifact, output, opts.delivery);
  await cache.touch(key, now());
  return { ...base, cached: hit, key, facts: { ...(artifact.extra ?? {}) }, warnings };
}
