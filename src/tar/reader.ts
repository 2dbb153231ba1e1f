/**
 * Public tar reading API: entries only (data skipped), entries of a tar
 * file on disk (data skipped by seeking), and entries with their data
 * streamed with backpressure. See docs/tar.md.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import type { TarEntry } from './entry.js';
import { readEntries, type TarEntryWithData, type TarReadOptions } from './entries.js';
import { FileSource, IterableSource } from './source.js';
import type { CapturedBlocks } from './captured.js';

export type { TarReadOptions, TarEntryWithData } from './entries.js';
export { paddingFor, TAR_BLOCK, DEFAULT_TAR_LIMITS, type TarLimits } from './constants.js';

/**
 * Reads every entry of an uncompressed tar stream. Data bytes are skipped,
 * not buffered; each entry's dataOffset/dataLength locate its (packed) data
 * in the stream. Consumes the whole stream (trailing bytes after the
 * end-of-archive blocks are read and ignored). Throws E_TAR_INVALID for a
 * malformed or truncated archive, E_LIMIT when a limit is exceeded.
 */
export async function* readTar(source: AsyncIterable<Uint8Array>, opts: TarReadOptions): AsyncGenerator<TarEntry> {
  for await (const { entry } of readEntries(new IterableSource(source), opts)) yield entry;
}

/**
 * Like readTar, for an uncompressed tar file: data is skipped by seeking, so
 * listing a large layer reads only its headers, and none that `captured`
 * holds. Throws E_IO when the file cannot be opened.
 */
export async function* readTarFile(path: string, opts: TarReadOptions, captured?: CapturedBlocks): AsyncGenerator<TarEntry> {
  for await (const { entry } of readEntries(await openTarFile(path, opts, captured), opts)) yield entry;
}

/** A tar file as a FileSource; E_IO naming the archive when it cannot be opened. */
async function openTarFile(path: string, opts: TarReadOptions, captured: CapturedBlocks | undefined): Promise<FileSource> {
  try {
    return await FileSource.open(path, captured);
  } catch (e) {
    throw new Oci2fsError(ErrorCode.IO, `${opts.label}: cannot open tar file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Every entry of an uncompressed tar file, like readTarFile, as one list;
 * `onEntry` sees each as it is decoded. A layer's entries are all needed
 * before any is applied (tree/flatten.ts), and a listing without a
 * generator per consumer in between costs less: a promise and an iterator
 * result per entry and level. Throws like readTarFile.
 */
export async function listTarFile(path: string, opts: TarReadOptions, captured?: CapturedBlocks, onEntry?: (e: TarEntry) => void): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const { entry } of readEntries(await openTarFile(path, opts, captured), opts)) {
    onEntry?.(entry);
    out.push(entry);
  }
  return out;
}

/**
 * Reads entries together with their data. Consume `data` before asking for
 * the next entry; unconsumed data is skipped then (and iterating it later
 * throws). The source is pulled only as fast as the consumer reads.
 */
export function readTarWithData(
  source: AsyncIterable<Uint8Array>,
  opts: TarReadOptions,
): AsyncGenerator<TarEntryWithData> {
  return readEntries(new IterableSource(source), opts);
}
