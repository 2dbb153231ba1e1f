/**
 * Open descriptors of the host files that hold tree contents, for the data
 * passes of the ext4, tar, dir and squashfs writers. Contents live in a few large files (spilled layer tars), read
 * front to back in allocation order, so a small LRU of descriptors opened
 * once per write avoids an open/stat/close per file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { hostPath } from '../tree/content.js';
import type { Content } from '../tree/types.js';

/** A file content stored plainly in a host file (no sparse map): read directly. */
export type PlainFileContent = Extract<Content, { kind: 'file' }>;

/** True when `content` lives in a host file without a sparse map. */
export function isPlainFile(content: Content): content is PlainFileContent {
  return content.kind === 'file' && !content.sparse;
}
import type { SourceFile } from './output.js';

/** Descriptors kept open at most. */
const MAX_OPEN = 64;

export class ContentSources {
  /** Most recently used last. */
  private readonly open = new Map<string, SourceFile>();

  /** The open descriptor of a `file` content's host path. */
  get(content: { path: string; pathIsBytes?: boolean }): SourceFile {
    const key = content.pathIsBytes ? `\0${content.path}` : content.path;
    const hit = this.open.get(key);
    if (hit) {
      this.open.delete(key);
      this.open.set(key, hit);
      return hit;
    }
    const path = hostPath(content);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new Oci2fsError(ErrorCode.IO, `Cannot open ${String(path)} to read file contents: ${(e as Error).message}`, { cause: e });
    }
    const src = { fd, name: String(path) };
    this.open.set(key, src);
    if (this.open.size > MAX_OPEN) {
      const [oldKey, old] = this.open.entries().next().value as [string, SourceFile];
      this.open.delete(oldKey);
      closeSync(old.fd);
    }
    return src;
  }

  /**
   * Fills `into[0, length)` with bytes [at, at + length) of a plain file
   * content, with synchronous positional reads (no buffer of our own, no
   * copy); E_IO when the host file ends first.
   */
  read(content: PlainFileContent, at: number, into: Uint8Array, length: number): void {
    const fd = this.get(content).fd;
    for (let done = 0; done < length; ) {
      const n = readSync(fd, into, done, length - done, content.offset + at + done);
      if (n === 0) {
        throw new Oci2fsError(ErrorCode.IO, `Cannot read ${content.length} bytes at offset ${content.offset} of ${content.path}: file ended early`);
      }
      done += n;
    }
  }

  /** Closes every descriptor. */
  close(): void {
    for (const { fd } of this.open.values()) closeSync(fd);
    this.open.clear();
  }
}
