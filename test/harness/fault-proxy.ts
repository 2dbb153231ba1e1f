/**
 * A loopback HTTP proxy with programmable faults, for testing how clients
 * survive broken registries. It forwards every request to `upstream`
 * (host:port, plain HTTP), keeping the Host header so the registry builds
 * URLs that point back at the proxy, and records every request.
 *
 * API (stable; used by every integration test):
 *
 *   const proxy = await startFaultProxy('127.0.0.1:5000');
 *   proxy.host / proxy.url                  // '127.0.0.1:PORT' / 'http://127.0.0.1:PORT'
 *   proxy.addFault({ path: /\/blobs\//, nth: 1, fault: { kind: 'drop', afterBytes: 100 } });
 *   proxy.clearFaults();
 *   proxy.requests                          // RecordedRequest[] in arrival order
 *   proxy.count(/\/blobs\/sha256:/, 'GET')  // how many requests matched
 *   proxy.resetCounts();
 *   proxy.blobServer.requests               // requests the redirect target received
 *   await proxy.stop();
 *
 * Rule matching: `path` (string = exact path, RegExp = tested against the
 * path without query) and optional `method`. Each rule counts the requests
 * it matches; with `nth` it fires only on that (1-based) match, with `times`
 * on the first `times` matches, with neither on every match. The first rule
 * that fires wins.
 *
 * Faults:
 *   respond      answer directly (status, headers, body) without asking upstream:
 *                429 with Retry-After, 503 bursts, a fake schema-1 manifest...
 *   drop         relay headers and `afterBytes` body bytes, then destroy the socket
 *   short-body   relay headers (full Content-Length) and `afterBytes` bytes, then end cleanly
 *   flip-byte    relay the body with the byte at `offset` XOR 0xff
 *   ignore-range forward without the Range header (upstream answers 200, full body)
 *   redirect     fetch the response from upstream, park it on the side blob
 *                server (another loopback port) and answer `status` (307) with a
 *                Location there; the blob server records whether it got an
 *                Authorization header and honours Range
 *   delay        wait `ms` before forwarding
 */
import { createServer, request as httpRequest, Agent } from 'node:http';
import type { IncomingMessage, ServerResponse, Server, OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'respond'; status: number; headers?: Record<string, string>; body?: string | Uint8Array }
  | { kind: 'drop'; afterBytes: number }
  | { kind: 'short-body'; afterBytes: number }
  | { kind: 'flip-byte'; offset: number }
  | { kind: 'ignore-range' }
  | { kind: 'redirect'; status?: 301 | 302 | 303 | 307 | 308 }
  | { kind: 'delay'; ms: number };

export interface FaultRule {
  path: string | RegExp;
  method?: string;
  nth?: number;
  times?: number;
  fault: Fault;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Full request target (path + query). */
  url: string;
  range?: string;
  /** The Accept header, if any. */
  accept?: string;
  /** The Connection header, if any (lower-cased). */
  connection?: string;
  /** True when the request carried an Authorization header (its value is not kept). */
  authorization: boolean;
  /** The fault applied, if any. */
  fault?: Fault['kind'];
  /** Status sent to the client (set when the response head went out). */
  status?: number;
}

export interface BlobServer {
  host: string;
  url: string;
  requests: RecordedRequest[];
}

export interface FaultProxy {
  host: string;
  url: string;
  upstream: string;
  requests: RecordedRequest[];
  blobServer: BlobServer;
  addFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Requests whose path matches (string: exact; RegExp: test) and, if given, method. */
  count(path: string | RegExp, method?: string): number;
  resetCounts(): void;
  stop(): Promise<void>;
}

interface ActiveRule extends FaultRule {
  seen: number;
  fired: number;
}

function pathMatches(p: string | RegExp, path: string): boolean {
  return typeof p === 'string' ? p === path : p.test(path);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function record(req: IncomingMessage): RecordedRequest {
  const url = req.url ?? '/';
  const r: RecordedRequest = {
    method: req.method ?? 'GET',
    path: url.split('?')[0],
    url,
    authorization: req.headers.authorization !== undefined,
  };
  if (typeof req.headers.range === 'string') r.range = req.headers.range;
  if (typeof req.headers.accept === 'string') r.accept = req.headers.accept;
  if (typeof req.headers.connection === 'string') r.connection = req.headers.connection.toLowerCase();
  return r;
}

/** Serves parked bodies at /parked/<id>, honouring `Range: bytes=N-`. */
async function startBlobServer(parked: Map<string, Buffer>): Promise<{ server: Server; info: BlobServer }> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    requests.push(record(req));
    const id = (req.url ?? '').split('?')[0].replace(/^\/parked\//, '');
    const body = parked.get(id);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (m && Number(m[1]) < body.length) {
      const start = Number(m[1]);
      res.writeHead(206, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': body.length - start,
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  const host = await listen(server);
  return { server, info: { host, url: `http://${host}`, requests } };
}

/** Starts a fault proxy in front of `upstream` ("host:port", plain HTTP). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const rules: ActiveRule[] = [];
  const requests: RecordedRequest[] = [];
  const parked = new Map<string, Buffer>();
  let parkedSeq = 0;
  const agent = new Agent({ keepAlive: true });
  const [upHost, upPort] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  const blob = await startBlobServer(parked);

  function pickFault(r: RecordedRequest): Fault | undefined {
    let chosen: Fault | undefined;
    for (const rule of rules) {
      if (!pathMatches(rule.path, r.path) || (rule.method && rule.method.toUpperCase() !== r.method)) continue;
      rule.seen++;
      if (chosen) continue;
      const fires = rule.nth !== undefined ? rule.seen === rule.nth : rule.times === undefined || rule.fired < rule.times;
      if (fires) {
        rule.fired++;
        chosen = rule.fault;
      }
    }
    return chosen;
  }

  function forward(req: IncomingMessage, res: ServerResponse, fault: Fault | undefined, body: Buffer): void {
    const headers: OutgoingHttpHeaders = { ...req.headers };
    // a redirect parks the whole body; the blob server applies the Range itself
    if (fault?.kind === 'ignore-range' || fault?.kind === 'redirect') delete headers.range;
    const up = httpRequest({ host: upHost, port: upPort, method: req.method, path: req.url, headers, agent }, (ur) => {
      const status = ur.statusCode ?? 502;
      if (fault?.kind === 'redirect' && status === 200) {
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          const id = `b${++parkedSeq}`;
          parked.set(id, Buffer.concat(chunks));
          res.writeHead(fault.status ?? 307, { Location: `${blob.info.url}/parked/${id}?X-Test-Signature=abc`, 'Content-Length': 0 });
          res.end();
        });
        return;
      }
      res.writeHead(status, ur.rawHeaders);
      if (fault?.kind === 'drop' || fault?.kind === 'short-body') {
        let sent = 0;
        let cut = false;
        ur.on('data', (c: Buffer) => {
          if (cut) return;
          const take = Math.min(c.length, fault.afterBytes - sent);
          sent += take;
          if (sent >= fault.afterBytes) {
            cut = true;
            ur.destroy();
            const finish = (): void => {
              if (fault.kind === 'drop') res.socket?.destroy();
              else res.socket?.end();
            };
            if (take > 0) res.write(c.subarray(0, take), finish);
            else finish();
          } else {
            res.write(c);
          }
        });
        ur.on('end', () => {
          if (!cut) res.end();
        });
        return;
      }
      if (fault?.kind === 'flip-byte') {
        let pos = 0;
        ur.on('data', (c: Buffer) => {
          if (fault.offset >= pos && fault.offset < pos + c.length) {
            c = Buffer.from(c);
            c[fault.offset - pos] ^= 0xff;
          }
          pos += c.length;
          res.write(c);
        });
        ur.on('end', () => res.end());
        return;
      }
      ur.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.socket?.destroy();
    });
    up.end(body);
  }

  const server = createServer((req, res) => {
    const r = record(req);
    requests.push(r);
    res.on('finish', () => {
      r.status = res.statusCode;
    });
    res.on('close', () => {
      if (res.headersSent) r.status = res.statusCode;
    });
    const fault = pickFault(r);
    if (fault) r.fault = fault.kind;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (fault?.kind === 'respond') {
        const b = fault.body === undefined ? Buffer.alloc(0) : Buffer.from(fault.body);
        res.writeHead(fault.status, { 'Content-Length': b.length, ...(fault.headers ?? {}) });
        res.end(b);
      } else if (fault?.kind === 'delay') {
        setTimeout(() => forward(req, res, undefined, body), fault.ms);
      } else {
        forward(req, res, fault, body);
      }
    });
  });
  const host = await listen(server);

  return {
    host,
    url: `http://${host}`,
    upstream,
    requests,
    blobServer: blob.info,
    addFault(rule) {
      rules.push({ ...rule, seen: 0, fired: 0 });
    },
    clearFaults() {
      rules.length = 0;
    },
    count(path, method) {
      return requests.filter((r) => pathMatches(path, r.path) && (!method || r.method === method.toUpperCase())).length;
    },
    resetCounts() {
      requests.length = 0;
      blob.info.requests.length = 0;
    },
    async stop() {
      agent.destroy();
      server.closeAllConnections();
      blob.server.closeAllConnections();
      await Promise.all([
        new Promise<void>((r) => server.close(() => r())),
        new Promise<void>((r) => blob.server.close(() => r())),
      ]);
    },
  };
}
