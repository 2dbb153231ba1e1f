/**
 * Direct reads of file contents into the data writer's block buffers.
 *
 * Contents stored in a host file (not sparse) are read with positional
 * synchronous reads straight into recycled block buffers: no fresh buffer
 * per chunk (page faults, GC pressure from external memory) and no copy
 * from a chunk into the block. The data is nearly always in the page cache
 * (just written by the layer spill). Other contents go through readContent.
 */
import { readSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { Content } from '../../tree/types.js';
import { ContentSources } from '../sources.js';

/** A file content that can be read directly. */
export type PlainFileContent = Extract<Content, { kind: 'file' }>;

/** True when `content` lives in a host file without a sparse map. */
export function isPlainFile(content: Content): content is PlainFileContent {
  return content.kind === 'file' && !content.sparse;
}

/** Reads contents through descriptors kept open for the whole write (writers/sources.ts). */
export class ContentSource {
  private readonly sources = new ContentSources();

  /** Fills `into[0, length)` with bytes [at, at+length) of the file's content. */
  read(content: PlainFileContent, at: number, into: Uint8Array, length: number): void {
    const fd = this.sources.get(content).fd;
    let done = 0;
    while (done < length) {
      const n = readSync(fd, into, done, length - done, content.offset + at + done);
      if (n === 0) {
        throw new Oci2fsError(ErrorCode.IO, `Cannot read ${content.length} bytes at offset ${content.offset} of ${content.path}: file ended early`);
      }
      done += n;
    }
  }

  /** Closes every descriptor. Safe to call more than once. */
  close(): void {
    this.sources.close();
  }
}
