/**
 * The addon's hash left for later: inflateGzip without hashing, sha256File
 * over the written tar, and decompressToFile handing the hash to the
 * caller's turn (hashTurn) so a reader may use the tar before its check.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compressibleBytes } from '../../test/harness/image-builder.js';
import { isOci2fsError } from '../errors.js';
import { nativeInflate, nativeSha256File, type NativeInflate, type NativeSha256File } from './native-inflate.js';
import { decompressToFile } from './to-file.js';

const inflate = nativeInflate();
const sha256File = nativeSha256File();
const skip = inflate && sha256File ? false : 'the native addon was built without libisal (Debian package libisal-dev) or is missing';

const dir = mkdtempSync(join(tmpdir(), 'oci2fs-nhash-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const data = compressibleBytes(3 * (1 << 20) + 12345, 7);
const gzPath = join(dir, 'layer.gz');
writeFileSync(gzPath, gzipSync(data));

test('inflateGzip without hashing writes the same bytes and gives no digest; with it, the digest of what it wrote', { skip }, async () => {
  for (const hash of [false, true]) {
    const out = join(dir, `out-${hash}`);
    const fd = openSync(out, 'w+');
    try {
      const r = await (inflate as NativeInflate)(gzPath, fd, Infinity, false, false, hash);
      assert.equal(r.kind, 'ok');
      if (r.kind !== 'ok') return;
      assert.equal(r.size, data.length);
      assert.equal(r.sha256, hash ? hex(data) : '');
    } finally {
      closeSync(fd);
    }
    assert.ok(readFileSync(out).equals(data));
  }
});

test('sha256File: the digest of the first `length` bytes; a shorter file is EIO, a missing one ENOENT, bad arguments throw', { skip }, async () => {
  const f = join(dir, 'plain');
  writeFileSync(f, data);
  const hashFile = sha256File as NativeSha256File;
  assert.equal(await hashFile(f, data.length), hex(data));
  assert.equal(await hashFile(f, 1000), hex(data.subarray(0, 1000)));
  assert.equal(await hashFile(f, 0), hex(Buffer.alloc(0)));
  await assert.rejects(hashFile(f, data.length + 1), (e: NodeJS.ErrnoException) => e.code === 'EIO' && /ended early/.test(e.message));
  await assert.rejects(hashFile(join(dir, 'nope'), 1), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  assert.throws(() => hashFile(f, -1), RangeError);
  assert.throws(() => (hashFile as unknown as (p: number) => unknown)(1), TypeError);
});

/** The addon's inflate, recording whether it was asked to hash. */
function recording(asked: boolean[]): NativeInflate {
  return (src, fd, max, direct, capture, hash) => {
    asked.push(hash !== false);
    return (inflate as NativeInflate)(src, fd, max, direct, capture, hash);
  };
}

test('decompressToFile with a hash turn: the addon only decodes, the tar is readable before its hash starts, then checked', { skip }, async () => {
  const asked: boolean[] = [];
  const order: string[] = [];
  const dest = join(dir, 'turn', 'tar');
  const tmp = `${dest}.tmp-test`;
  rmSync(join(dir, 'turn'), { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'turn'));
  const r = await decompressToFile(gzPath, dest, {
    label: 'layer 0',
    expectedDiffId: `sha256:${hex(data)}`,
    nativeInflate: recording(asked),
    igzipMinBytes: 1,
    tmpPath: tmp,
    onDecoded: () => {
      order.push('decoded');
      assert.ok(readFileSync(tmp).equals(data), 'the whole tar is there when onDecoded runs');
    },
    hashTurn: async (hash) => {
      order.push('turn');
      await new Promise((res) => setTimeout(res, 30));
      order.push('hash');
      return hash();
    },
  });
  assert.deepEqual(asked, [false]);
  assert.deepEqual(order, ['decoded', 'turn', 'hash']);
  assert.equal(r.diffId, `sha256:${hex(data)}`);
  assert.equal(r.decoder, 'native');
  assert.ok(readFileSync(dest).equals(data));
});

test('decompressToFile with a hash turn and a wrong diff_id: E_DIGEST_MISMATCH after onDecoded, nothing left under either name', { skip }, async () => {
  const sub = join(dir, 'wrong');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(sub);
  let decoded = false;
  await assert.rejects(
    decompressToFile(gzPath, join(sub, 'tar'), {
      label: 'layer 0',
      expectedDiffId: `sha256:${'0'.repeat(64)}`,
      igzipMinBytes: 1,
      onDecoded: () => (decoded = true),
      hashTurn: (hash) => hash(),
    }),
    (e: unknown) => isOci2fsError(e, 'E_DIGEST_MISMATCH'),
  );
  assert.ok(decoded);
  assert.deepEqual(readdirSync(sub), []);
});

test('decompressToFile without a hash turn: the addon hashes as it decodes', { skip }, async () => {
  const asked: boolean[] = [];
  const dest = join(dir, 'inpass');
  const r = await decompressToFile(gzPath, dest, { label: 'layer 0', expectedDiffId: `sha256:${hex(data)}`, nativeInflate: recording(asked), igzipMinBytes: 1 });
  assert.deepEqual(asked, [true]);
  assert.equal(r.diffId, `sha256:${hex(data)}`);
  assert.ok(existsSync(dest));
});
