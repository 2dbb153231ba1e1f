import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { httpFetch, speaksTls } from './http.js';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; host: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: `http://${host}`, host, server };
}

const get = (url: string, idleTimeoutMs?: number) =>
  httpFetch(new URL(url), { method: 'GET', headers: {}, verifyTls: true, ...(idleTimeoutMs ? { idleTimeoutMs } : {}) });

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts);
}

test('a body that stalls fails with a retryable ETIMEDOUT instead of hanging', async () => {
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Length': '10' });
    res.write('12345'); // and then nothing
  });
  try {
    const res = await get(`${s.url}/x`, 200);
    assert.equal(res.status, 200);
    await assert.rejects(readAll(res.body!), (e: NodeJS.ErrnoException) => e.code === 'ETIMEDOUT');
  } finally {
    s.server.closeAllConnections();
    s.server.close();
  }
});

test('a gzip Content-Encoding is undone; header names are case-insensitive; text() reads the body', async () => {
  const text = 'manifest '.repeat(500);
  const s = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Encoding': 'gzip', 'X-Two': ['a', 'b'] });
    res.end(gzipSync(text));
  });
  try {
    const a = await get(`${s.url}/a`);
    assert.equal(a.headers.get('content-encoding'), 'gzip');
    assert.equal(a.headers.get('X-TWO'), 'a, b', 'repeated fields joined like fetch');
    assert.equal(a.headers.get('x-missing'), null);
    assert.equal((await readAll(a.body!)).toString(), text);
    const b = await get(`${s.url}/b`);
    assert.equal(await b.text(), text);
  } finally {
    s.server.closeAllConnections();
    s.server.close();
  }
});

test('speaksTls: false for a plain-HTTP server, true for nothing listening (left to the real request)', async () => {
  const s = await serve((_req, res) => res.end('plain'));
  try {
    assert.equal(await speaksTls(s.host, 2000), false);
  } finally {
    s.server.closeAllConnections();
    s.server.close();
  }
  assert.equal(await speaksTls(s.host, 2000), true, 'connection refused: not decided by the probe');
});
