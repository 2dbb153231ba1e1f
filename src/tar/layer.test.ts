/**
 * Layer path end to end: GNU tar makes gzip and zstd compressed layers
 * (`tar -czf`, `tar --zstd -cf`); we decompress and read them, streaming and
 * via decompressToFile + readTarFile, and compare with GNU tar's listing
 * and extraction. (Tests may cross folders; the code may not.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decompress } from '../compress/decompress.js';
import { decompressToFile } from '../compress/to-file.js';
import { isOci2fsError } from '../errors.js';
import { readTarFile, readTarWithData } from './reader.js';

const HAVE_ZSTD = spawnSync('zstd', ['--version']).status === 0;
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oci2fs-layer-'));
  const root = join(dir, 'root');
  fs.mkdirSync(join(root, 'etc/sub'), { recursive: true });
  for (let i = 0; i < 40; i++) fs.writeFileSync(join(root, `etc/sub/f${i}`), `file ${i}\n`.repeat(i * 50));
  fs.writeFileSync(join(root, 'etc/big'), Buffer.alloc(300_000, 0x5a));
  fs.symlinkSync('sub/f1', join(root, 'etc/link'));
  execFileSync('tar', ['--format=pax', '-czf', join(dir, 'layer.tar.gz'), '-C', root, '.']);
  if (HAVE_ZSTD) execFileSync('tar', ['--format=pax', '--zstd', '-cf', join(dir, 'layer.tar.zst'), '-C', root, '.']);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function gnuList(path: string): string[] {
  return execFileSync('tar', ['-tf', path, '--quoting-style=literal']).toString().split('\n').filter(Boolean);
}

for (const kind of ['gz', 'zst'] as const) {
  test(`${kind} layer made by GNU tar: streamed decompress + read matches GNU tar`, { skip: kind === 'zst' && !HAVE_ZSTD && 'zstd missing' }, async () => {
    const layer = join(dir, `layer.tar.${kind}`);
    const names: string[] = [];
    const ex = join(dir, `x-${kind}`);
    fs.mkdirSync(ex);
    execFileSync('tar', ['-xf', layer, '-C', ex]);
    for await (const { entry, data } of readTarWithData(decompress(createReadStream(layer), { label: 'L' }), { label: 'L' })) {
      names.push(entry.path);
      const parts: Uint8Array[] = [];
      for await (const c of data) parts.push(c);
      if (entry.type === 'file') assert.deepEqual(Buffer.concat(parts), fs.readFileSync(join(ex, entry.path)), entry.path);
    }
    assert.deepEqual(names, gnuList(layer));
  });
}

test('decompressToFile + readTarFile: dataOffset/dataLength locate file bytes in the spilled tar', async () => {
  const layer = join(dir, 'layer.tar.gz');
  const out = join(dir, 'spilled.tar');
  const r = await decompressToFile(layer, out, { label: 'L' });
  assert.equal(r.compression, 'gzip');
  assert.equal(r.size, fs.statSync(out).size);
  const fd = fs.openSync(out, 'r');
  try {
    let files = 0;
    for await (const e of readTarFile(out, { label: 'L' })) {
      if (e.type !== 'file') continue;
      const buf = Buffer.alloc(e.dataLength);
      fs.readSync(fd, buf, 0, e.dataLength, e.dataOffset);
      const want = execFileSync('tar', ['-xOf', out, e.path], { maxBuffer: 1 << 22 });
      assert.deepEqual(buf, want, e.path);
      files++;
    }
    assert.equal(files, 41);
  } finally {
    fs.closeSync(fd);
  }
});

test('a CRC error after the end-of-archive blocks still surfaces E_COMPRESSION through the reader', async () => {
  const bytes = fs.readFileSync(join(dir, 'layer.tar.gz'));
  // Flip a bit of the gzip trailer CRC: the tar data is intact, so only the
  // decompressor can notice — after the end-of-archive blocks, which the
  // reader must still consume.
  bytes[bytes.length - 7] ^= 0x01;
  async function* src(): AsyncGenerator<Uint8Array> {
    yield bytes;
  }
  await assert.rejects(async () => {
    for await (const { data } of readTarWithData(decompress(src(), { label: 'L9' }), { label: 'L9' })) {
      for await (const _ of data) {
        // drain
      }
    }
  }, (e) => isOci2fsError(e, 'E_COMPRESSION') && /L9/.test(e.message));
});
