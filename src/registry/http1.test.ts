/**
 * The bulk download client (http1.ts) through httpFetch({ bulk: true }),
 * against node's own HTTP server (an independent implementation) and raw
 * sockets for what a well-behaved server never sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, connect as connectNet, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { httpFetch } from './http.js';
import { Receiver, QUEUE_HIGH_WATER, SLAB_BYTES } from './http1-receiver.js';
import { isRetryableNetworkError } from './retry.js';

type Handler = Parameters<typeof createServer>[1];

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function withHttp(handler: Handler, run: (base: string) => Promise<void>): Promise<void> {
  const server = createServer(handler);
  try {
    await run(await listen(server));
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** A server that answers every connection with `reply` (raw bytes), then does what `after` says. */
async function withRaw(reply: (s: Socket) => void, run: (base: string, requests: string[]) => Promise<void>): Promise<void> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    let req = '';
    s.on('data', (d) => {
      req += d.toString('latin1');
      if (req.includes('\r\n\r\n')) {
        requests.push(req);
        reply(s);
      }
    });
  });
  try {
    await run(await listen(server), requests);
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
}

const bulk = (url: string, extra: { method?: string; headers?: Record<string, string>; idleTimeoutMs?: number; signal?: AbortSignal } = {}) =>
  httpFetch(new URL(url), { method: extra.method ?? 'GET', headers: extra.headers ?? {}, verifyTls: true, bulk: true, ...extra });

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts);
}

test('bulk GET reads a Content-Length body, a chunked body and a body delimited by the close', async () => {
  const data = randomBytes(3 << 20);
  await withHttp(
    (req, res) => {
      if (req.url === '/length') {
        res.writeHead(200, { 'Content-Length': String(data.length) });
        res.end(data);
      } else {
        res.writeHead(200); // no length: node sends it chunked
        for (let i = 0; i < data.length; i += 100_000) res.write(data.subarray(i, i + 100_000));
        res.end();
      }
    },
    async (base) => {
      const a = await bulk(`${base}/length`);
      assert.equal(a.status, 200);
      assert.ok((await readAll(a.body!)).equals(data));
      const b = await bulk(`${base}/chunked`);
      assert.equal(b.headers.get('transfer-encoding'), 'chunked');
      assert.ok((await readAll(b.body!)).equals(data));
    },
  );
  await withRaw(
    (s) => s.end('HTTP/1.1 200 OK\r\nX-Kind: close\r\n\r\nall of it'),
    async (base, requests) => {
      const r = await bulk(`${base}/v2/x/blobs/sha256:00?a=1`, { headers: { Range: 'bytes=5-', Authorization: 'Bearer t' } });
      assert.equal(r.headers.get('x-kind'), 'close');
      assert.equal((await readAll(r.body!)).toString(), 'all of it');
      assert.match(requests[0], /^GET \/v2\/x\/blobs\/sha256:00\?a=1 HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nrange: bytes=5-\r\nauthorization: Bearer t\r\n/);
      assert.match(requests[0], /connection: close\r\n\r\n$/);
    },
  );
});

test('bulk: a body cut short fails with a retryable ECONNRESET (the download resumes from there)', async () => {
  await withRaw(
    (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b'),
    async (base) => {
      const r = await bulk(`${base}/x`);
      const got: Uint8Array[] = [];
      await assert.rejects(
        (async () => {
          for await (const c of r.body!) got.push(c);
        })(),
        (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET' && isRetryableNetworkError(e),
      );
      assert.equal(Buffer.concat(got).toString(), 'only ten b', 'what arrived is handed out before the error');
    },
  );
  await withRaw(
    (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'),
    async (base) => {
      const r = await bulk(`${base}/x`);
      await assert.rejects(readAll(r.body!), (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET');
    },
  );
});

test('bulk: bytes past Content-Length are not part of the body', async () => {
  await withRaw(
    (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbodyEXTRA'),
    async (base) => {
      assert.equal((await readAll((await bulk(`${base}/x`)).body!)).toString(), 'body');
    },
  );
});

test('bulk: a stalled head or body fails with ETIMEDOUT instead of hanging', async () => {
  await withRaw(
    (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345'),
    async (base) => {
      const r = await bulk(`${base}/x`, { idleTimeoutMs: 200 });
      await assert.rejects(readAll(r.body!), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
    },
  );
  await withRaw(
    (s) => s.write('HTTP/1.1 200 OK\r\n'),
    async (base) => {
      await assert.rejects(bulk(`${base}/x`, { idleTimeoutMs: 200 }), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
    },
  );
});

test('bulk: malformed or oversized heads and a close before the head are errors, not hangs', async () => {
  await withRaw(
    (s) => s.end('HTTP/1.1 2OO OK\r\n\r\n'),
    async (base) => {
      await assert.rejects(bulk(`${base}/x`), (e: NodeJS.ErrnoException) => e.code === 'HPE_INVALID');
    },
  );
  await withRaw(
    (s) => s.end(`HTTP/1.1 200 OK\r\n${'X-Pad: y\r\n'.repeat(8000)}\r\n`),
    async (base) => {
      await assert.rejects(bulk(`${base}/x`), /response head over/);
    },
  );
  await withRaw(
    (s) => s.end('HTTP/1.1 200 OK\r\nContent-Le'),
    async (base) => {
      await assert.rejects(bulk(`${base}/x`), (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET' && isRetryableNetworkError(e));
    },
  );
});

test('bulk: 1xx heads are skipped, HEAD and 204 have no body, gzip Content-Encoding is undone', async () => {
  await withRaw(
    (s) => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 307 Temporary Redirect\r\nLocation: /there\r\nContent-Length: 0\r\n\r\n'),
    async (base) => {
      const r = await bulk(`${base}/x`);
      assert.equal(r.status, 307);
      assert.equal(r.headers.get('location'), '/there');
      assert.equal((await readAll(r.body!)).length, 0);
    },
  );
  const text = 'layer '.repeat(1000);
  await withHttp(
    (req, res) => {
      if (req.url === '/204') {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': String(gzipSync(text).length) });
      res.end(req.method === 'HEAD' ? undefined : gzipSync(text));
    },
    async (base) => {
      assert.equal((await bulk(`${base}/h`, { method: 'HEAD' })).body, null);
      assert.equal((await bulk(`${base}/204`)).body, null);
      assert.equal(await (await bulk(`${base}/g`)).text(), text);
    },
  );
});

test('bulk: cancel closes the connection; an abort before the head rejects with its reason', async () => {
  let closed!: () => void;
  const sawClose = new Promise<void>((r) => (closed = r));
  await withRaw(
    (s) => {
      s.on('close', () => closed());
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nstart');
    },
    async (base) => {
      const r = await bulk(`${base}/x`);
      (r as unknown as { cancel(): void }).cancel();
      await sawClose;
    },
  );
  await withRaw(
    () => {}, // never answers
    async (base) => {
      const ac = new AbortController();
      const p = bulk(`${base}/x`, { signal: ac.signal });
      const reason = new Error('head took too long');
      setTimeout(() => ac.abort(reason), 50);
      await assert.rejects(p, (e) => e === reason);
    },
  );
});

test('bulk: a header value with a line break is refused before anything is sent', async () => {
  await withRaw(
    (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
    async (base, requests) => {
      await assert.rejects(bulk(`${base}/x`, { headers: { authorization: 'Bearer x\r\nX-Injected: 1' } }), (e: NodeJS.ErrnoException) => e.code === 'HPE_INVALID');
      assert.equal(requests.length, 0);
    },
  );
});

test('bulk over TLS: unverified for an insecure registry, refused when the certificate cannot be verified', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-http1-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const data = randomBytes(2 << 20);
  const server = createTlsServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (s) => {
    s.on('error', () => {});
    s.once('data', () => s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\n\r\n`), data])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/b`;
    const r = await httpFetch(new URL(url), { method: 'GET', headers: {}, verifyTls: false, bulk: true });
    assert.ok((await readAll(r.body!)).equals(data));
    await assert.rejects(httpFetch(new URL(url), { method: 'GET', headers: {}, verifyTls: true, bulk: true }), (e: NodeJS.ErrnoException) => /certificate/i.test(e.message) || /CERT/.test(e.code ?? ''));
  } finally {
    server.close();
  }
});

test('Receiver stops reading past its high-water mark until the queue is drained (memory stays bounded)', async () => {
  const total = 40 << 20;
  const server = createNetServer((s) => {
    s.on('error', () => {});
    s.end(Buffer.alloc(total, 7));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  let sock: Socket | undefined;
  try {
    const rx = new Receiver();
    sock = connectNet({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', onread: rx.onread });
    rx.attach(sock);
    // nobody reads meanwhile: wait (on a loaded machine, seconds) until the queue reaches the mark, then a while longer
    for (let waited = 0; rx.queuedBytes < QUEUE_HIGH_WATER && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(rx.queuedBytes >= QUEUE_HIGH_WATER, `queued ${rx.queuedBytes}`);
    assert.ok(rx.queuedBytes < QUEUE_HIGH_WATER + SLAB_BYTES, `queued ${rx.queuedBytes}: the socket kept reading`);
    let got = 0;
    for (let c = await rx.next(); c !== null; c = await rx.next()) got += c.length;
    assert.equal(got, total, 'reading resumed after the pause and every byte arrived');
  } finally {
    // a failed assertion must not leave the connection keeping the test process alive (regression: CI hung here)
    sock?.destroy();
    server.close();
  }
});

test('endpoint: IPv6 brackets dropped, default ports per scheme, SNI for host names only', async () => {
  const { endpoint } = await import('./http1.js');
  assert.deepEqual(endpoint(new URL('https://registry.example/v2/')), { host: 'registry.example', port: 443, servername: 'registry.example' });
  assert.deepEqual(endpoint(new URL('http://registry.example:5000/v2/')), { host: 'registry.example', port: 5000, servername: 'registry.example' });
  assert.deepEqual(endpoint(new URL('https://127.0.0.1:5000/')), { host: '127.0.0.1', port: 5000 });
  assert.deepEqual(endpoint(new URL('https://[fe80::1]/')), { host: 'fe80::1', port: 443 });
  assert.deepEqual(endpoint(new URL('http://[::1]:8080/')), { host: '::1', port: 8080 });
});
