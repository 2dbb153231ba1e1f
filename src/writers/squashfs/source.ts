/**
 * Direct reads of file contents into the data writer's block buffers.
 *
 * Contents stored in a host file (not sparse) are read with positional
 * synchronous reads straight into recycled block buffers: no fresh buffer
 * per chunk (page faults, GC pressure from external memory) and no copy
 * from a chunk into the block. The data is nearly always in the page cache
 * (just written by the layer spill). Other contents go through readContent.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { hostPath } from '../../tree/content.js';
import type { Content } from '../../tree/types.js';

/** A file content that can be read directly. */
export type PlainFileContent = Extract<Content, { kind: 'file' }>;

/** Descriptors kept open at most (contents usually live in a few large layer files). */
const MAX_OPEN = 16;

/** True when `content` lives in a host file without a sparse map. */
export function isPlainFile(content: Content): content is PlainFileContent {
  return content.kind === 'file' && !content.sparse;
}

/** Open descriptors of content files, least recently used first. */
export class ContentSource {
  private readonly fds = new Map<string, number>();

  private fdFor(content: PlainFileContent): number {
    const key = content.pathIsBytes ? `\0${content.path}` : content.path;
    const fd = this.fds.get(key);
    if (fd !== undefined) {
      this.fds.delete(key);
      this.fds.set(key, fd);
      return fd;
    }
    let opened: number;
    try {
      opened = openSync(hostPath(content), 'r');
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot open ${content.path} to read file contents: ${(e as Error).message}`, { cause: e });
    }
    this.fds.set(key, opened);
    if (this.fds.size > MAX_OPEN) {
      const [oldKey, oldFd] = this.fds.entries().next().value as [string, number];
      this.fds.delete(oldKey);
      closeSync(oldFd);
    }
    return opened;
  }

  /** Fills `into[0, length)` with bytes [at, at+length) of the file's content. */
  read(content: PlainFileContent, at: number, into: Uint8Array, length: number): void {
    const fd = this.fdFor(content);
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
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
