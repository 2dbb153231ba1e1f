/**
 * A loopback HTTP proxy that slows blob bodies down to a byte rate, so a
 * test can kill a pull in the middle of a blob. Forwards everything to
 * `upstream` (host:port) with the Host header rewritten to upstream, so the
 * registry's URLs keep pointing at the upstream proxy that counts requests.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Slices of the rate per tick. */
const TICKS_PER_SECOND = 20;

export interface Throttle {
  host: string;
  /** Bytes per second for bodies of GET /v2/.../blobs/...; Infinity = no limit. */
  setRate(bytesPerSecond: number): void;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startThrottle(upstream: string, bytesPerSecond: number): Promise<Throttle> {
  let rate = bytesPerSecond;
  const server = createServer((req, res) => {
    const up = request(
      { host: upstream.split(':')[0], port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers: { ...req.headers, host: upstream } },
      async (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        const slow = /\/blobs\/sha256:/.test(req.url ?? '') && req.method === 'GET';
        try {
          for await (const chunk of ur as AsyncIterable<Buffer>) {
            let c = chunk;
            while (c.length > 0) {
              const n = slow && Number.isFinite(rate) ? Math.max(1, Math.floor(rate / TICKS_PER_SECOND)) : c.length;
              if (!res.write(c.subarray(0, n))) await new Promise((r) => res.once('drain', r));
              c = c.subarray(n);
              if (slow && Number.isFinite(rate)) await sleep(1000 / TICKS_PER_SECOND);
              if (res.destroyed) return;
            }
          }
          res.end();
        } catch {
          res.destroy();
        }
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
    res.on('close', () => up.destroy());
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    setRate(r: number) {
      rate = r;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
