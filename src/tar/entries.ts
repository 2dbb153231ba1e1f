/**
 * The tar reading state machine over a ByteSource: header blocks, pax
 * global/local headers, GNU long names and sparse maps are folded into
 * TarEntry values; data areas are handed out as a stream or skipped. See
 * docs/tar.md for what we accept.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import {
  TAR_BLOCK, TYPE, DEFAULT_TAR_LIMITS, paddingFor, GNU_SPARSE_IN_EXTENSION, GNU_EXT_ISEXTENDED_OFFSET,
  type TarLimits,
} from './constants.js';
import type { TarEntry, TarEntryType } from './entry.js';
import { tarInvalid, tarLimit, type TarContext } from './errors.js';
import { decodeHeader, decodeSparseRuns, isZeroBlock, type RawHeader, type SparseRun } from './header.js';
import { interpretPax, mergeGlobal, type PaxOverrides } from './extensions.js';
import { parsePaxRecords, type PaxRecord } from './pax.js';
import { maxSparse10MapBytes, parseSparse10Map, validateSparse } from './sparse.js';
import type { ByteSource } from './source.js';
import { latin1 } from './numeric.js';

/** Options of every tar reading function. */
export interface TarReadOptions {
  /** Names the archive in error messages (e.g. "layer 2 sha256:…"). */
  label: string;
  /**
   * Accept quirks that are otherwise errors: unknown type flags (the entry
   * and its data are skipped) and a lone zero block in mid-archive.
   */
  lenient?: boolean;
  limits?: Partial<TarLimits>;
}

/** An entry and the stream of its (packed) data bytes. */
export interface TarEntryWithData {
  entry: TarEntry;
  /**
   * The entry's data (dataLength bytes). Must be consumed before asking for
   * the next entry; whatever is left is skipped then, and iterating it
   * afterwards throws.
   */
  data: AsyncIterable<Uint8Array>;
}

const FILE_TYPES: ReadonlyMap<number, TarEntryType> = new Map([
  [TYPE.FILE, 'file'],
  [TYPE.FILE_OLD, 'file'],
  [TYPE.CONTIGUOUS, 'file'],
  [TYPE.GNU_SPARSE, 'file'],
  [TYPE.HARDLINK, 'hardlink'],
  [TYPE.SYMLINK, 'symlink'],
  [TYPE.CHARDEV, 'chardev'],
  [TYPE.BLOCKDEV, 'blockdev'],
  [TYPE.DIR, 'dir'],
  [TYPE.GNU_DUMPDIR, 'dir'],
  [TYPE.FIFO, 'fifo'],
]);

/** Stream of one entry's data, bound to the reader's current position. */
class EntryData implements AsyncIterable<Uint8Array> {
  stale = false;
  constructor(
    private readonly src: ByteSource,
    public remaining: number,
    private readonly ctx: TarContext,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    while (this.remaining > 0) {
      if (this.stale) {
        throw new Oci2fsError(ErrorCode.INTERNAL, `${this.ctx.label}: entry data read after moving to the next entry`);
      }
      const chunk = await this.src.readSome(this.remaining);
      if (chunk.length === 0) throw tarInvalid(this.ctx, 'archive ends inside the entry data (truncated)');
      this.remaining -= chunk.length;
      yield chunk;
    }
  }
}

/** Up to `n` bytes, without a promise where the source allows it (ByteSource.readNow). */
function read(src: ByteSource, n: number): Uint8Array | Promise<Uint8Array> {
  return src.readNow ? src.readNow(n) : src.read(n);
}

/** Reads exactly n bytes or fails as truncated. */
async function readExact(src: ByteSource, n: number, ctx: TarContext): Promise<Uint8Array> {
  const b = await read(src, n);
  if (b.length !== n) throw tarInvalid(ctx, 'archive is truncated');
  return b;
}

const truncatedEntry = (ctx: TarContext): Oci2fsError => tarInvalid(ctx, 'archive ends inside an entry (truncated)');

/** Skips exactly n bytes or fails as truncated; a promise only where the source has to wait. */
function skipExact(src: ByteSource, n: number, ctx: TarContext): void | Promise<void> {
  if (src.skipNow) {
    if (src.skipNow(n) !== n) throw truncatedEntry(ctx);
    return;
  }
  return src.skip(n).then((k) => {
    if (k !== n) throw truncatedEntry(ctx);
  });
}

/**
 * Reads a metadata entry's data (pax, long name) plus its padding, as a copy
 * of its own: pax values are kept (xattrs) while later reads go on, and a
 * source's bytes may be valid only until its next read (FileSource).
 */
async function readMetaData(src: ByteSource, size: number, ctx: TarContext): Promise<Uint8Array> {
  const data = new Uint8Array(await readExact(src, size, ctx)); // a copy (Buffer#slice would be a view)
  await skipExact(src, paddingFor(size), ctx);
  return data;
}

/**
 * Yields every entry of the tar stream in `src`, with its data stream.
 * Ends at two zero blocks (then drains the rest of the source) or at the end
 * of the stream between entries. Closes `src` when done or abandoned.
 */
export async function* readEntries(src: ByteSource, opts: TarReadOptions): AsyncGenerator<TarEntryWithData> {
  const limits: TarLimits = { ...DEFAULT_TAR_LIMITS, ...opts.limits };
  const ctx: TarContext = { label: opts.label, offset: 0 };
  const globals = new Map<string, Uint8Array>();
  let globalBytes = 0;
  let local: PaxRecord[] = [];
  let localBytes = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pendingMeta = false;
  let headers = 0;
  try {
    for (;;) {
      ctx.offset = src.position;
      const r = read(src, TAR_BLOCK);
      let block = r instanceof Promise ? await r : r;
      if (block.length === 0) {
        if (pendingMeta) throw tarInvalid(ctx, 'archive ends after an extension header, before its entry');
        break;
      }
      if (block.length < TAR_BLOCK) throw tarInvalid(ctx, 'archive ends inside a header block (truncated)');
      if (isZeroBlock(block)) {
        const next = await read(src, TAR_BLOCK);
        if (next.length === 0 || isZeroBlock(next)) {
          if (pendingMeta) throw tarInvalid(ctx, 'end of archive right after an extension header');
          await src.drain();
          break;
        }
        if (!opts.lenient) throw tarInvalid(ctx, 'a lone zero block in mid-archive (use lenient mode to accept it)');
        if (next.length < TAR_BLOCK) throw tarInvalid(ctx, 'archive ends inside a header block (truncated)');
        ctx.offset += TAR_BLOCK;
        block = next;
      }
      if (++headers > limits.maxEntries) throw tarLimit(ctx, `more than ${limits.maxEntries} entries`, 'maxEntries');
      const h = decodeHeader(block, ctx);
      switch (h.typeflag) {
        case TYPE.PAX_LOCAL:
        case TYPE.PAX_GLOBAL: {
          const isGlobal = h.typeflag === TYPE.PAX_GLOBAL;
          const total = (isGlobal ? globalBytes : localBytes) + h.size;
          if (total > limits.maxPaxHeaderSize) {
            throw tarLimit(ctx, `pax ${isGlobal ? 'global' : 'extended'} headers of ${total} bytes`, 'maxPaxHeaderSize');
          }
          const records = parsePaxRecords(await readMetaData(src, h.size, ctx), ctx);
          if (isGlobal) {
            mergeGlobal(globals, records);
            globalBytes = total;
          } else {
            local = local.concat(records);
            localBytes = total;
            pendingMeta = true;
          }
          continue;
        }
        case TYPE.GNU_LONGNAME:
        case TYPE.GNU_LONGLINK: {
          if (h.size > limits.maxLongNameSize) {
            throw tarLimit(ctx, `GNU long name of ${h.size} bytes`, 'maxLongNameSize');
          }
          const data = await readMetaData(src, h.size, ctx);
          const nul = data.indexOf(0);
          const s = latin1(nul < 0 ? data : data.subarray(0, nul));
          if (h.typeflag === TYPE.GNU_LONGNAME) longName = s;
          else longLink = s;
          pendingMeta = true;
          continue;
        }
        case TYPE.GNU_VOLHDR:
          await skipExact(src, h.size + paddingFor(h.size), ctx);
          continue;
        default:
          break;
      }
      const type = FILE_TYPES.get(h.typeflag);
      if (type === undefined) {
        const flag = JSON.stringify(String.fromCharCode(h.typeflag));
        if (!opts.lenient) throw tarInvalid(ctx, `unsupported entry type flag ${flag}`);
        const size = interpretPax(globals, local, ctx, limits).size ?? h.size;
        await skipExact(src, size + paddingFor(size), ctx);
        local = [];
        localBytes = 0;
        longName = longLink = undefined;
        pendingMeta = false;
        continue;
      }
      const pax = interpretPax(globals, local, ctx, limits);
      const b = buildEntry(src, h, type, pax, longName, longLink, ctx, limits);
      const built = b instanceof Promise ? await b : b;
      local = [];
      localBytes = 0;
      longName = longLink = undefined;
      pendingMeta = false;
      const data = new EntryData(src, built.entry.dataLength, { ...ctx });
      yield { entry: built.entry, data };
      data.stale = true;
      const skipped = skipExact(src, data.remaining + built.trailing, ctx);
      if (skipped) await skipped;
    }
  } finally {
    await src.close();
  }
}

/**
 * Turns a decoded header plus its extensions into a TarEntry, reading GNU
 * sparse extension blocks / the sparse 1.0 map (which precede the data).
 * `trailing` is what follows the packed data in the data area (padding).
 * Only an entry with a sparse map to read returns a promise.
 */
function buildEntry(
  src: ByteSource,
  h: RawHeader,
  headerType: TarEntryType,
  pax: PaxOverrides,
  longName: string | undefined,
  longLink: string | undefined,
  ctx: TarContext,
  limits: TarLimits,
): Built | Promise<Built> {
  const path = pax.path ?? longName ?? h.name;
  let type = headerType;
  // A regular file whose name ends in "/" is a directory (old tars, GNU tar rule).
  if (type === 'file' && h.typeflag !== TYPE.GNU_SPARSE && path.endsWith('/')) type = 'dir';
  const declared = pax.size ?? h.size;
  // Like Go archive/tar (what image builders use): links, devices, fifos and
  // directories carry no data whatever their size field says; GNU dumpdirs
  // ('D') hold a listing we skip, and a "file/" turned directory keeps its
  // data area (skipped) so we stay in step with the archive.
  const hasData = headerType === 'file' || h.typeflag === TYPE.GNU_DUMPDIR;
  const areaSize = hasData ? declared : 0;
  const entry: TarEntry = {
    path,
    type,
    mode: h.mode,
    uid: pax.uid ?? h.uid,
    gid: pax.gid ?? h.gid,
    mtimeSec: pax.mtime?.sec ?? h.mtime,
    mtimeNsec: pax.mtime?.nsec ?? 0,
    size: type === 'file' ? declared : 0,
    linkname: type === 'hardlink' || type === 'symlink' ? (pax.linkpath ?? longLink ?? h.linkname) : '',
    devMajor: type === 'chardev' || type === 'blockdev' ? (pax.devMajor ?? h.devMajor) : 0,
    devMinor: type === 'chardev' || type === 'blockdev' ? (pax.devMinor ?? h.devMinor) : 0,
    xattrs: pax.xattrs,
    dataOffset: 0,
    dataLength: type === 'file' ? declared : 0,
  };
  if (h.gnuSparse || (pax.sparse && type === 'file')) return withSparseMap(src, h, pax, entry, declared, areaSize, ctx, limits);
  entry.dataOffset = src.position;
  return { entry, trailing: areaSize - entry.dataLength + paddingFor(areaSize) };
}

/** An entry's data area as it is stored: packed data, then padding (`trailing`). */
interface Built {
  entry: TarEntry;
  trailing: number;
}

/** buildEntry for a sparse file: its GNU extension blocks or sparse 1.0 map are read first. */
async function withSparseMap(
  src: ByteSource,
  h: RawHeader,
  pax: PaxOverrides,
  entry: TarEntry,
  declared: number,
  areaSize: number,
  ctx: TarContext,
  limits: TarLimits,
): Promise<Built> {
  let runs: SparseRun[] | undefined;
  let realSize = 0;
  let mapBytes = 0;
  if (h.gnuSparse) {
    runs = [...h.gnuSparse.runs];
    realSize = h.gnuSparse.realSize;
    let extended = h.gnuSparse.isExtended;
    while (extended) {
      const ext = await readExact(src, TAR_BLOCK, ctx);
      runs.push(...decodeSparseRuns(ext, 0, GNU_SPARSE_IN_EXTENSION, ctx));
      if (runs.length > limits.maxSparseSegments) throw tarLimit(ctx, 'too many sparse segments', 'maxSparseSegments');
      extended = ext[GNU_EXT_ISEXTENDED_OFFSET] !== 0;
    }
  } else if (pax.sparse) {
    realSize = pax.sparse.realSize;
    if (pax.sparse.version === '1.0') {
      const max = Math.min(maxSparse10MapBytes(limits), declared - (declared % TAR_BLOCK));
      let head = new Uint8Array(0);
      let parsed: ReturnType<typeof parseSparse10Map> = null;
      while (parsed === null) {
        if (head.length + TAR_BLOCK > max) {
          if (head.length + TAR_BLOCK > maxSparse10MapBytes(limits)) {
            throw tarLimit(ctx, 'GNU sparse 1.0 map is too large', 'maxSparseSegments');
          }
          throw tarInvalid(ctx, 'GNU sparse 1.0 map runs past the entry data');
        }
        const blk = await readExact(src, TAR_BLOCK, ctx);
        const grown = new Uint8Array(head.length + TAR_BLOCK);
        grown.set(head, 0);
        grown.set(blk, head.length);
        head = grown;
        parsed = parseSparse10Map(head, ctx, limits);
      }
      runs = parsed.runs;
      mapBytes = parsed.mapBytes;
    } else {
      runs = pax.sparse.runs;
    }
  }
  if (runs !== undefined) {
    const packed = declared - mapBytes;
    entry.sparse = validateSparse(runs, realSize, packed, ctx);
    entry.size = realSize;
    entry.dataLength = packed;
  }
  entry.dataOffset = src.position;
  return { entry, trailing: areaSize - mapBytes - entry.dataLength + paddingFor(areaSize) };
}
