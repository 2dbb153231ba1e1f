/**
 * The canonical tar output: one byte-reproducible POSIX (pax) archive of a
 * validated tree (docs/determinism.md, "tar output").
 *  - Entries in tree walk order (depth-first, names in byte order), the root
 *    first as "./"; other names have no "./" prefix, directories end in "/".
 *  - Every further path of a hardlinked inode is a type-1 entry linking to
 *    the first path in walk order.
 *  - Headers come from tar/encode.ts: ustar, plus a pax header when a value
 *    does not fit; xattrs as SCHILY.xattr.*; uname/gname empty.
 *  - Sparse files (layer files with a sparse map) are GNU sparse 1.0 entries:
 *    a stand-in name, the map, then only the data segments; sockets cannot be
 *    stored in tar and are left out with a warning.
 *  - Ends with the two zero blocks; no padding to a record size.
 */
import { once } from 'node:events';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { ProgressListener } from '../../events.js';
import { encodeHeader, endOfArchive, paddingFor } from '../../tar/encode.js';
import { readContent, readFile } from '../../tree/content.js';
import type { ValidatedTree } from '../../tree/types.js';
import { ImageOutput } from '../output.js';
import { ContentSources } from '../sources.js';
import { entryCount, planTar, planTarChunks } from './plan.js';

export interface WriteTarOptions {
  events?: ProgressListener;
  /** Also write every byte to this file (see OutputOptions.mirror). */
  mirror?: string;
}

/** Output is handed to the stream in pieces of about this size: one write per small file cost more than the copy. */
export const TAR_WRITE_BATCH = 1 << 20;

/** Collects small pieces (headers, small files, padding) into large writes, honouring backpressure. */
class Batcher {
  private parts: Uint8Array[] = [];
  private bytes = 0;

  constructor(private readonly out: NodeJS.WritableStream) {}

  async put(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    this.parts.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= TAR_WRITE_BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.bytes === 0) return;
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    if (!this.out.write(buf)) await once(this.out, 'drain');
  }
}

/**
 * The archive into a file: contents are read synchronously straight into
 * the output's buffers while the previous buffer is being written (the same
 * double-buffered, hole-keeping output as the ext4 writer), so reading the
 * layers and writing the archive overlap. Same bytes as the stream path.
 */
async function writeTarFile(tree: ValidatedTree, path: string, opts: WriteTarOptions): Promise<void> {
  const warn = (code: string, message: string): void => opts.events?.({ type: 'warning', code, message });
  // counted at the first progress event, once the disk is busy, not before the first byte
  let total = -1;
  const totalNow = (): number => (total >= 0 ? total : (total = entryCount(tree)));
  const out = await ImageOutput.create(path, 0, 'tar archive', { sparse: false, ...(opts.mirror !== undefined ? { mirror: opts.mirror } : {}) });
  const sources = new ContentSources();
  let pos = 0;
  const put = async (chunk: Uint8Array): Promise<void> => {
    await out.write(pos, chunk);
    pos += chunk.length;
  };
  try {
    let done = 0;
    for (const entries of planTarChunks(tree, warn)) {
      for (const p of entries) {
        await put(encodeHeader(p.header, p.sparse));
        if (p.sparse) {
          // the map, then the data segments as they are stored (packed, contiguous)
          await put(p.sparse.map);
          await out.copyFrom(pos, sources.get(p.sparse.src), p.sparse.src.offset, p.sparse.src.length);
          pos += p.sparse.src.length;
          await out.zero(pos, paddingFor(p.sparse.src.length));
          pos += paddingFor(p.sparse.src.length);
        } else if (p.data && p.inode.kind === 'file') {
          const c = p.inode.content;
          if (c.kind === 'file' && !c.sparse && c.length === p.inode.size) {
            await out.copyFrom(pos, sources.get(c), c.offset, c.length);
            pos += c.length;
          } else {
            let written = 0;
            for await (const chunk of readFile(p.inode)) {
              await put(chunk);
              written += chunk.length;
            }
            if (written !== p.inode.size) throw new Oci2fsError(ErrorCode.IO, `File ${p.header.path} produced ${written} bytes, expected ${p.inode.size}`);
          }
          await out.zero(pos, paddingFor(p.inode.size));
          pos += paddingFor(p.inode.size);
        }
        if (++done % 1000 === 0) opts.events?.({ type: 'write-progress', phase: 'tar', done, total: totalNow() });
      }
    }
    await put(endOfArchive());
    await out.close(pos);
    opts.events?.({ type: 'write-progress', phase: 'tar', done, total: totalNow() });
  } catch (e) {
    await out.close().catch(() => undefined);
    throw e;
  } finally {
    sources.close();
  }
}

/**
 * Writes the canonical tar of `tree` to a stream (left open) or to a file
 * path (created or truncated, closed when done).
 */
export async function writeTar(tree: ValidatedTree, out: NodeJS.WritableStream | string, opts: WriteTarOptions = {}): Promise<void> {
  if (typeof out === 'string') return writeTarFile(tree, out, opts);
  const stream = out;
  const warn = (code: string, message: string): void => opts.events?.({ type: 'warning', code, message });
  const batch = new Batcher(stream);
  const put = (_s: NodeJS.WritableStream, chunk: Uint8Array): Promise<void> => batch.put(chunk);
  {
    const plan = planTar(tree, warn);
    let done = 0;
    for (const p of plan) {
      await put(stream, encodeHeader(p.header, p.sparse));
      if (p.sparse) {
        await put(stream, p.sparse.map);
        const packed = { ...p.sparse.src, sparse: undefined };
        for await (const chunk of readContent(packed, packed.length)) await put(stream, chunk);
        await put(stream, new Uint8Array(paddingFor(packed.length)));
      } else if (p.data && p.inode.kind === 'file') {
        let written = 0;
        for await (const chunk of readFile(p.inode)) {
          await put(stream, chunk);
          written += chunk.length;
        }
        if (written !== p.inode.size) throw new Oci2fsError(ErrorCode.IO, `File ${p.header.path} produced ${written} bytes, expected ${p.inode.size}`);
        await put(stream, new Uint8Array(paddingFor(written)));
      }
      if (++done % 1000 === 0) opts.events?.({ type: 'write-progress', phase: 'tar', done, total: plan.length });
    }
    await put(stream, endOfArchive());
    await batch.flush();
    opts.events?.({ type: 'write-progress', phase: 'tar', done: plan.length, total: plan.length });
  }
  // the stream belongs to the caller: left open
}
