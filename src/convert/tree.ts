/**
 * Building the finalized tree of an import from any source: image layers
 * (via the store), a scanned directory, or a composefs dumpfile.
 */
import { readFile } from 'node:fs/promises';
import type { DirInode, ValidatedTree } from '../tree/types.js';
import { flattenLayers } from '../tree/flatten.js';
import { scanDirectory } from '../tree/scan.js';
import type { TarReadOptions } from '../tar/reader.js';
import type { TarEntry } from '../tar/entry.js';
import { layerEntries, type EntryIndexRef, type IndexGate } from './entry-index-file.js';
import type { CapturedBlocks } from '../tar/captured.js';
import { finalizeTree, type FinalizeOptions } from '../finalize/finalize.js';
import { parseDumpfile } from '../dumpfile/index.js';
import type { ProgressListener } from '../events.js';

export interface TreeResult {
  tree: ValidatedTree;
  warnings: { code: string; message: string }[];
  /** Work left behind that the caller should await before it finishes (index writes held back by `verified`). */
  pending?: Promise<unknown>[];
}

/** One layer's tar: when it can be read, its entry index, and the metadata blocks its spill captured (asked for once ready). */
export interface LayerTar {
  label: string;
  path: string;
  ready?: Promise<void>;
  index?: EntryIndexRef;
  captured?: () => CapturedBlocks | undefined;
}

/** Flattens uncompressed layer tars (in order) and finalizes the result. */
export async function treeFromLayers(
  tarPaths: LayerTar[],
  finalize: FinalizeOptions,
  opts: { lenient?: boolean; events?: ProgressListener; verified?: Promise<void> },
): Promise<TreeResult> {
  const pending: Promise<unknown>[] = [];
  const gate = opts.verified ? { verified: opts.verified, track: (p: Promise<void>) => void pending.push(p) } : undefined;
  const layers = tarPaths.map((l) => {
    // each layer is listed as soon as it is ready, whatever the order: only applying them is in order
    const entries = entriesWhenReady(l, { label: l.label, lenient: opts.lenient }, gate);
    entries.catch(() => undefined); // a failure is flatten's to report, when it comes to that layer
    return { label: l.label, tarPath: l.path, entries };
  });
  const { root, warnings } = await flattenLayers(layers, { lenient: opts.lenient, events: opts.events });
  return { tree: await finalizeTree(root, finalize), warnings, pending };
}

/** The entries of a layer tar (from its entry index when there is one), read once `ready` (its spill) settled. */
async function entriesWhenReady(l: LayerTar, opts: TarReadOptions, gate?: IndexGate): Promise<TarEntry[]> {
  await l.ready;
  return layerEntries(l.path, l.index, opts, gate, l.captured?.());
}

/** A directory on disk as a tree (`dir:PATH`), under the same root rule as layers. */
export async function treeFromDirectory(path: string, finalize: FinalizeOptions): Promise<TreeResult> {
  const root: DirInode = await scanDirectory(path);
  return { tree: await finalizeTree(root, finalize), warnings: [] };
}

/** A composefs dumpfile as a tree (`dumpfile:PATH`). */
export async function treeFromDumpfile(path: string, finalize: FinalizeOptions): Promise<TreeResult> {
  const root = parseDumpfile(await readFile(path), { strict: true });
  return { tree: await finalizeTree(root, finalize), warnings: [] };
}
