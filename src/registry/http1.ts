/**
 * Bulk downloads (blob bodies) over our own HTTP/1.1 exchange on a plain
 * socket: one request per connection (`Connection: close`), the response
 * head parsed by http1-parse.ts, the body handed out as the socket's own
 * chunks. node:http's client copies every body chunk out of its parser
 * and pushes it through an IncomingMessage stream; on the bench image
 * (445 MB in six blobs, 2 cores) that was ~0.35 s of the main thread's CPU,
 * which a cold pull is bound by. Small requests (tokens, manifests,
 * configs) keep node:http and its keep-alive pools (http.ts).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { bodyFraming, ChunkedDecoder, formatRequestHead, headEnd, HttpFramingError, MAX_HEAD_BYTES, parseResponseHead, type BodyFraming, type ResponseHead } from './http1-parse.js';

export interface BulkInit {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  signal?: AbortSignal;
  /** HTTPS only: options for tls.connect (certificate checks, CA list). */
  tls?: ConnectionOptions;
  /** Socket idle limit, head and body. */
  idleTimeoutMs: number;
}

export interface BulkResponse extends ResponseHead {
  /** The body bytes, decoded from the transfer framing; null for responses without one. */
  body: AsyncGenerator<Buffer> | null;
  /** Closes the connection (the body is not wanted). */
  cancel(): void;
}

/** The error a connection closed early gives (node:http says the same for a cut body). */
function closedEarly(what: string): Error {
  return Object.assign(new Error(`connection closed ${what}`), { code: 'ECONNRESET' });
}

function open(url: URL, init: BulkInit): Socket {
  const tls = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  if (!tls) return netConnect({ host, port });
  return tlsConnect({ ...init.tls, host, port, ALPNProtocols: ['http/1.1'], ...(isIP(host) ? {} : { servername: host }) });
}

/** The body of a response as it arrives: `first` (read with the head), then the socket's chunks. */
async function* bodyOf(socket: Socket, framing: BodyFraming, first: Buffer): AsyncGenerator<Buffer> {
  try {
    if (framing.kind === 'length') {
      let left = framing.length;
      const head = first.subarray(0, left);
      left -= head.length;
      if (head.length > 0) yield head;
      if (left > 0) {
        for await (const chunk of socket as AsyncIterable<Buffer>) {
          const c = chunk.length > left ? chunk.subarray(0, left) : chunk;
          left -= c.length;
          yield c;
          if (left === 0) break;
        }
      }
      if (left > 0) throw closedEarly(`with ${left} bytes of the body still to come`);
    } else if (framing.kind === 'chunked') {
      const dec = new ChunkedDecoder();
      for (const c of dec.push(first)) yield c;
      if (!dec.done) {
        for await (const chunk of socket as AsyncIterable<Buffer>) {
          for (const c of dec.push(chunk)) yield c;
          if (dec.done) break;
        }
      }
      if (!dec.done) throw closedEarly('inside a chunked body');
    } else {
      if (first.length > 0) yield first;
      for await (const chunk of socket as AsyncIterable<Buffer>) yield chunk;
    }
  } finally {
    socket.destroy();
  }
}

/**
 * One request without a body on a new connection; resolves with the head
 * once it is in (1xx heads skipped). Network failures reject with node's
 * errors; a malformed response with HttpFramingError (code HPE_INVALID).
 */
export function bulkFetch(url: URL, init: BulkInit): Promise<BulkResponse> {
  return new Promise<BulkResponse>((resolve, reject) => {
    let request: Buffer;
    try {
      request = formatRequestHead(init.method, url, init.headers);
    } catch (e) {
      reject(e);
      return;
    }
    const socket = open(url, init);
    let settled = false;
    let buf: Buffer = Buffer.alloc(0);
    const onAbort = (): void => fail(init.signal?.reason ?? Object.assign(new Error('aborted'), { name: 'AbortError' }));
    function fail(e: unknown): void {
      if (settled) return;
      settled = true;
      init.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(e);
    }
    const onClose = (): void => fail(closedEarly('before the response head'));
    const onData = (chunk: Buffer): void => {
      buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const end = headEnd(buf);
        if (end > MAX_HEAD_BYTES || (end < 0 && buf.length > MAX_HEAD_BYTES)) {
          fail(new HttpFramingError(`response head over ${MAX_HEAD_BYTES} bytes`));
          return;
        }
        if (end < 0) return;
        let head: ResponseHead;
        let framing: BodyFraming;
        try {
          head = parseResponseHead(buf.subarray(0, end));
          framing = bodyFraming(init.method, head);
        } catch (e) {
          fail(e);
          return;
        }
        buf = buf.subarray(end);
        if (head.status >= 100 && head.status < 200) continue; // informational: the real head follows
        settled = true;
        init.signal?.removeEventListener('abort', onAbort);
        socket.off('data', onData);
        socket.off('close', onClose);
        socket.pause();
        const cancel = (): void => {
          socket.destroy();
        };
        if (framing.kind === 'none') {
          socket.destroy();
          resolve({ ...head, body: null, cancel });
        } else {
          resolve({ ...head, body: bodyOf(socket, framing, buf), cancel });
        }
        return;
      }
    };
    if (init.signal?.aborted) {
      onAbort();
      return;
    }
    init.signal?.addEventListener('abort', onAbort, { once: true });
    // An error after the head reaches the body's reader; this listener only keeps it from being unhandled.
    socket.on('error', fail);
    socket.on('close', onClose);
    socket.on('data', onData);
    socket.setTimeout(init.idleTimeoutMs, () => {
      const err = Object.assign(new Error(`no data for ${init.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' });
      socket.destroy(err);
    });
    socket.write(request);
  });
}
