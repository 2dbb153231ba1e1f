/**
 * Open descriptors of the host files that hold tree contents, for the data
 * passes of the ext4 and tar writers. Contents live in a few large files (spilled layer tars), read
 * front to back in allocation order, so a small LRU of descriptors opened
 * once per write avoids an open/stat/close per file.
 */
import { closeSync, openSync } from 'node:fs';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { hostPath } from '../tree/content.js';
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

  /** Closes every descriptor. */
  close(): void {
    for (const { fd } of this.open.values()) closeSync(fd);
    this.open.clear();
  }
}
