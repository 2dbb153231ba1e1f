/**
 * HTTP/1.1 message framing for the bulk download client (http1.ts), pure:
 * the request head we send, the response head we read, and the chunked
 * transfer coding (RFC 9112 §3, §4, §5, §6, §7.1). Only what a client of a
 * registry or blob store needs: no request bodies, no trailers kept, no
 * obsolete line folding.
 */

/** Largest response head we accept (status line + fields + CRLF CRLF); node's own default is 16 KiB. */
export const MAX_HEAD_BYTES = 64 << 10;
/** Largest chunk-size line (size, extensions, CRLF) or trailer line of a chunked body. */
export const MAX_CHUNK_LINE = 4096;
/** Largest chunk size we accept (hex digits beyond this would overflow a safe integer). */
const MAX_CHUNK_HEX_DIGITS = 13;

const HEAD_END = Buffer.from('\r\n\r\n');

/** A malformed message from the server (or a request we refuse to send). */
export class HttpFramingError extends Error {
  readonly code = 'HPE_INVALID';
}

/** token (RFC 9110 §5.6.2): a field name or method. */
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Field values: visible ASCII/obs-text, spaces and tabs; never CR, LF or NUL. */
const FIELD_VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;
const STATUS_LINE_RE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/;

/**
 * The request head for `method` on `url`: request line, Host, the given
 * fields, `Connection: close`. Throws on a field that could smuggle a line
 * break (header injection), as node:http does.
 */
export function formatRequestHead(method: string, url: URL, fields: Record<string, string>): Buffer {
  if (!TOKEN_RE.test(method)) throw new HttpFramingError(`invalid method ${JSON.stringify(method)}`);
  const target = `${url.pathname || '/'}${url.search}`;
  if (!FIELD_VALUE_RE.test(target) || target.includes(' ')) throw new HttpFramingError('invalid request target');
  const lines = [`${method} ${target} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of Object.entries(fields)) {
    const n = name.toLowerCase();
    if (n === 'host' || n === 'connection' || n === 'content-length' || n === 'transfer-encoding') continue;
    if (!TOKEN_RE.test(name)) throw new HttpFramingError(`invalid header name ${JSON.stringify(name)}`);
    if (!FIELD_VALUE_RE.test(value)) throw new HttpFramingError(`invalid value for header ${name}`);
    lines.push(`${n}: ${value}`);
  }
  lines.push('connection: close', '', '');
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** Index just past the CRLF CRLF that ends a head in `buf`, or -1 (not yet complete). */
export function headEnd(buf: Buffer): number {
  const i = buf.indexOf(HEAD_END);
  return i < 0 ? -1 : i + HEAD_END.length;
}

export interface ResponseHead {
  status: number;
  /** Field names lower-cased; a repeated field as an array, in order (like node's IncomingMessage.headers). */
  fields: Record<string, string | string[]>;
}

/** Parses a complete response head (through its final CRLF CRLF). */
export function parseResponseHead(head: Buffer): ResponseHead {
  const lines = head.toString('latin1').split('\r\n');
  const m = STATUS_LINE_RE.exec(lines[0]);
  if (!m) throw new HttpFramingError(`invalid status line ${JSON.stringify(lines[0].slice(0, 80))}`);
  const fields: Record<string, string | string[]> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') throw new HttpFramingError('obsolete line folding in a response header');
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN_RE.test(name)) throw new HttpFramingError(`invalid response header line ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    const key = name.toLowerCase();
    const had = fields[key];
    fields[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return { status: Number(m[1]), fields };
}

/** How the body of a response is delimited (RFC 9112 §6.3). */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

/** The framing of a response to `method` with `head`. */
export function bodyFraming(method: string, head: ResponseHead): BodyFraming {
  const { status, fields } = head;
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) return { kind: 'none' };
  const te = fields['transfer-encoding'];
  if (te !== undefined) {
    const codings = (Array.isArray(te) ? te.join(',') : te).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    // chunked must be the final coding; anything else is read to the close (we ask for no other codings)
    return codings[codings.length - 1] === 'chunked' && codings.length === 1 ? { kind: 'chunked' } : { kind: 'close' };
  }
  const cl = fields['content-length'];
  if (cl !== undefined) {
    const values = new Set((Array.isArray(cl) ? cl.join(',') : cl).split(',').map((s) => s.trim()));
    const [only] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only)) throw new HttpFramingError(`invalid Content-Length ${JSON.stringify(cl)}`);
    return { kind: 'length', length: Number(only) };
  }
  return { kind: 'close' };
}

/**
 * Decodes the chunked transfer coding incrementally: `push` takes bytes as
 * they arrive and returns the data they carry (views into the input);
 * `done` once the last chunk and trailer section were read. Bytes after
 * the end are ignored (the connection is closed after every response).
 */
export class ChunkedDecoder {
  private state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size';
  private left = 0;
  private line = Buffer.alloc(0);

  get done(): boolean {
    return this.state === 'done';
  }

  push(input: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < input.length && this.state !== 'done') {
      if (this.state === 'data') {
        const n = Math.min(this.left, input.length - at);
        out.push(input.subarray(at, at + n));
        at += n;
        this.left -= n;
        if (this.left === 0) this.state = 'data-crlf';
        continue;
      }
      const line = this.takeLine(input, at);
      if (line === null) break;
      at = line.next;
      this.onLine(line.text);
    }
    return out;
  }

  /**
   * A complete line (without its line break) from the carried-over bytes and
   * `input` from `at`, or null when the line is not complete yet (the bytes
   * are kept). Lines end in CRLF; a bare LF is accepted too.
   */
  private takeLine(input: Buffer, at: number): { text: string; next: number } | null {
    const lf = input.indexOf(0x0a, at);
    if (lf < 0) {
      this.line = Buffer.concat([this.line, input.subarray(at)]);
      if (this.line.length > MAX_CHUNK_LINE) throw new HttpFramingError('chunk-size or trailer line too long');
      return null;
    }
    const whole = this.line.length > 0 ? Buffer.concat([this.line, input.subarray(at, lf)]) : input.subarray(at, lf);
    this.line = Buffer.alloc(0);
    if (whole.length > MAX_CHUNK_LINE) throw new HttpFramingError('chunk-size or trailer line too long');
    const end = whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length;
    return { text: whole.subarray(0, end).toString('latin1'), next: lf + 1 };
  }

  private onLine(text: string): void {
    switch (this.state) {
      case 'size': {
        const m = /^([0-9A-Fa-f]+)[ \t]*(?:;.*)?$/.exec(text);
        if (!m || m[1].length > MAX_CHUNK_HEX_DIGITS) throw new HttpFramingError(`invalid chunk size line ${JSON.stringify(text.slice(0, 40))}`);
        this.left = parseInt(m[1], 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
        return;
      }
      case 'data-crlf':
        if (text !== '') throw new HttpFramingError('chunk data not followed by CRLF');
        this.state = 'size';
        return;
      case 'trailer':
        if (text === '') this.state = 'done'; // trailer fields themselves are dropped
        return;
      default:
        return;
    }
  }
}
