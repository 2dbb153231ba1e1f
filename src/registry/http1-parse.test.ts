import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyFraming, ChunkedDecoder, formatRequestHead, headEnd, HttpFramingError, MAX_CHUNK_LINE, parseResponseHead } from './http1-parse.js';

const head = (s: string) => parseResponseHead(Buffer.from(s, 'latin1'));

test('formatRequestHead: request line, Host, lower-cased fields, Connection: close; framing fields are ours', () => {
  const h = formatRequestHead('GET', new URL('https://r.example:5000/v2/a/blobs/sha256:ab?x=1&y=2'), {
    Range: 'bytes=10-',
    'User-Agent': 'oci2fs/0.1',
    Host: 'evil.example',
    Connection: 'keep-alive',
    'Content-Length': '5',
  }).toString('latin1');
  assert.equal(
    h,
    'GET /v2/a/blobs/sha256:ab?x=1&y=2 HTTP/1.1\r\nhost: r.example:5000\r\nrange: bytes=10-\r\nuser-agent: oci2fs/0.1\r\nconnection: close\r\n\r\n',
  );
});

test('formatRequestHead refuses header injection, bad names and bad methods', () => {
  const url = new URL('http://h/x');
  assert.throws(() => formatRequestHead('GET', url, { authorization: 'Bearer a\r\nX-Evil: 1' }), HttpFramingError);
  assert.throws(() => formatRequestHead('GET', url, { 'bad name': 'v' }), HttpFramingError);
  assert.throws(() => formatRequestHead('GET', url, { 'x-nul': 'a\0b' }), HttpFramingError);
  assert.throws(() => formatRequestHead('GET /y HTTP/1.1\r\n', url, {}), HttpFramingError);
});

test('headEnd finds the end of a head only when CRLF CRLF is complete', () => {
  assert.equal(headEnd(Buffer.from('HTTP/1.1 200 OK\r\nA: b\r\n')), -1);
  const b = Buffer.from('HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody');
  assert.equal(b.subarray(headEnd(b)).toString(), 'body');
});

test('parseResponseHead: status, lower-cased names, trimmed values, repeated fields in order', () => {
  const h = head('HTTP/1.1 206 Partial Content\r\nContent-Range:  bytes 5-9/10 \r\nX-A: 1\r\nx-a: 2\r\nEmpty:\r\n\r\n');
  assert.equal(h.status, 206);
  assert.equal(h.fields['content-range'], 'bytes 5-9/10');
  assert.deepEqual(h.fields['x-a'], ['1', '2']);
  assert.equal(h.fields.empty, '');
  assert.equal(head('HTTP/1.0 404\r\n\r\n').status, 404, 'reason phrase is optional');
});

test('parseResponseHead rejects bad status lines, folded fields and lines without a name', () => {
  for (const bad of [
    'HTTP/2 200 OK\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n',
    'HTTP/1.1 200 OK\r\n: nameless\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
    'HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n',
  ]) {
    assert.throws(() => head(bad), HttpFramingError, JSON.stringify(bad));
  }
});

test('bodyFraming follows RFC 9112 §6.3: no body, chunked, length, or read to the close', () => {
  const ok = head('HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n');
  assert.deepEqual(bodyFraming('HEAD', ok), { kind: 'none' });
  assert.deepEqual(bodyFraming('GET', ok), { kind: 'length', length: 12 });
  assert.deepEqual(bodyFraming('GET', head('HTTP/1.1 204 No Content\r\n\r\n')), { kind: 'none' });
  assert.deepEqual(bodyFraming('GET', head('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n')), { kind: 'none' });
  // Transfer-Encoding wins over Content-Length (a smuggling defence the RFC requires)
  assert.deepEqual(bodyFraming('GET', head('HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 3\r\n\r\n')), { kind: 'chunked' });
  assert.deepEqual(bodyFraming('GET', head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n')), { kind: 'close' });
  assert.deepEqual(bodyFraming('GET', head('HTTP/1.1 200 OK\r\n\r\n')), { kind: 'close' });
  assert.deepEqual(bodyFraming('GET', head('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n')), { kind: 'length', length: 7 });
  for (const cl of ['7\r\nContent-Length: 8', '-1', '1e3', '', '0x10', '9999999999999999']) {
    assert.throws(() => bodyFraming('GET', head(`HTTP/1.1 200 OK\r\nContent-Length: ${cl}\r\n\r\n`)), HttpFramingError, cl);
  }
});

const CHUNKED = '5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n';

test('ChunkedDecoder gives the same bytes whichever way the input is split (extensions and trailers skipped)', () => {
  const input = Buffer.from(CHUNKED + 'ignored after the end', 'latin1');
  for (let cut1 = 0; cut1 <= input.length; cut1++) {
    for (const cut2 of [cut1, Math.min(input.length, cut1 + 1), Math.min(input.length, cut1 + 7)]) {
      const d = new ChunkedDecoder();
      const out = [input.subarray(0, cut1), input.subarray(cut1, cut2), input.subarray(cut2)].flatMap((p) => d.push(p));
      assert.equal(Buffer.concat(out).toString(), 'helloabcdefghijklmnopqrstuvwxyz', `cuts ${cut1}, ${cut2}`);
      assert.ok(d.done);
    }
  }
});

test('ChunkedDecoder accepts bare LF line ends and knows when it is not done', () => {
  const d = new ChunkedDecoder();
  assert.equal(Buffer.concat(d.push(Buffer.from('3\nabc\n'))).toString(), 'abc');
  assert.equal(d.done, false);
  d.push(Buffer.from('0\n\n'));
  assert.equal(d.done, true);
});

test('ChunkedDecoder rejects bad sizes, missing CRLF after data and overlong lines', () => {
  assert.throws(() => new ChunkedDecoder().push(Buffer.from('zz\r\n')), HttpFramingError);
  assert.throws(() => new ChunkedDecoder().push(Buffer.from('-1\r\n')), HttpFramingError);
  assert.throws(() => new ChunkedDecoder().push(Buffer.from('FFFFFFFFFFFFFFFF\r\n')), HttpFramingError);
  assert.throws(() => new ChunkedDecoder().push(Buffer.from('3\r\nabcX\r\n')), HttpFramingError);
  const d = new ChunkedDecoder();
  assert.throws(() => {
    for (let i = 0; i <= MAX_CHUNK_LINE; i += 1000) d.push(Buffer.from('0'.repeat(1000)));
  }, HttpFramingError);
});
