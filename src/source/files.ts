/**
 * Read access to the files of an image layout or an image archive, whether
 * it is a directory or a tar file. A tar file is indexed once (headers only,
 * data skipped by seeking); members are then read in place by offset, so
 * nothing is extracted and any blob can be resumed at any offset.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { readTarFile } from '../tar/reader.js';

export interface ArchiveFiles {
  /** Names the layout/archive in messages. */
  readonly label: string;
  /** Size of a member, or undefined when absent. */
  size(name: string): Promise<number | undefined>;
  /** A member's bytes from `offset` to its end. */
  open(name: string, offset: number): AsyncIterable<Uint8Array>;
  /** A whole small member; E_NOT_FOUND when absent, E_LIMIT when larger than maxBytes. */
  read(name: string, maxBytes: number): Promise<Buffer>;
}

/** Normalises a member name: no leading `./` or `/`, no `.` segments. */
export function memberName(name: string): string {
  const n = posix.normalize('/' + name).slice(1);
  return n.endsWith('/') ? n.slice(0, -1) : n;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return Buffer.concat(parts);
}

abstract class BaseFiles implements ArchiveFiles {
  abstract readonly label: string;
  abstract size(name: string): Promise<number | undefined>;
  abstract open(name: string, offset: number): AsyncIterable<Uint8Array>;

  async read(name: string, maxBytes: number): Promise<Buffer> {
    const size = await this.size(name);
    if (size === undefined) throw new Oci2fsError(ErrorCode.NOT_FOUND, `${this.label} has no ${name}`);
    if (size > maxBytes) throw new Oci2fsError(ErrorCode.LIMIT, `${name} in ${this.label} is ${size} bytes, over the ${maxBytes}-byte limit`);
    return collect(this.open(name, 0));
  }
}

/** Files of a layout directory. */
export class DirFiles extends BaseFiles {
  readonly label: string;
  constructor(private readonly dir: string) {
    super();
    this.label = `OCI layout ${dir}`;
  }

  private path(name: string): string {
    return join(this.dir, memberName(name));
  }

  async size(name: string): Promise<number | undefined> {
    try {
      const st = await stat(this.path(name));
      return st.isFile() ? st.size : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw new Oci2fsError(ErrorCode.IO, `Cannot stat ${this.path(name)}: ${(e as Error).message}`, { cause: e });
    }
  }

  open(name: string, offset: number): AsyncIterable<Uint8Array> {
    return createReadStream(this.path(name), { start: offset, highWaterMark: 1 << 20 });
  }
}

/** Members of an (uncompressed) tar archive, read in place. */
export class TarFiles extends BaseFiles {
  private constructor(
    readonly label: string,
    private readonly path: string,
    private readonly members: Map<string, { offset: number; length: number }>,
    /** Identifies this version of the archive file (path, size, mtime) for caches. */
    readonly identity: string,
  ) {
    super();
  }

  /** A key for `name` that changes when the archive file changes. */
  memberKey(name: string): string {
    const m = this.members.get(memberName(name));
    return `${this.identity}\0${memberName(name)}\0${m?.offset}\0${m?.length}`;
  }

  /** Indexes the regular files of the tar at `path` (headers only). */
  static async index(path: string, label: string): Promise<TarFiles> {
    let identity: string;
    try {
      const fh = await open(path, 'r');
      const st = await fh.stat();
      await fh.close();
      identity = `${path}\0${st.dev}\0${st.ino}\0${st.size}\0${st.mtimeMs}`;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Oci2fsError(code === 'ENOENT' ? ErrorCode.NOT_FOUND : ErrorCode.IO, `Cannot open ${label}: ${(e as Error).message}`, { cause: e });
    }
    const members = new Map<string, { offset: number; length: number }>();
    for await (const e of readTarFile(path, { label })) {
      if (e.type !== 'file' || e.sparse) continue;
      members.set(memberName(e.path), { offset: e.dataOffset, length: e.dataLength });
    }
    return new TarFiles(label, path, members, identity);
  }

  async size(name: string): Promise<number | undefined> {
    return this.members.get(memberName(name))?.length;
  }

  open(name: string, offset: number): AsyncIterable<Uint8Array> {
    const m = this.members.get(memberName(name));
    if (!m) throw new Oci2fsError(ErrorCode.NOT_FOUND, `${this.label} has no member ${name}`);
    if (offset >= m.length) return (async function* () {})();
    return createReadStream(this.path, { start: m.offset + offset, end: m.offset + m.length - 1, highWaterMark: 1 << 20 });
  }
}
