/**
 * Layers spilled by igzip are read (flattened, written) before their diffID
 * check finishes; nothing may be published unless it passes. An image whose
 * config names a wrong diff_id for a big gzip layer must fail with
 * E_DIGEST_MISMATCH, for every output and with the cache on or off, leaving
 * no output, no artifact and no spilled tar behind. openssl is made to answer
 * late, so the outputs are written before the check fails. The same holds
 * where the addon decodes the layers (its hash, on a thread of the addon,
 * also runs once every layer is decoded).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildImage } from '../harness/image-builder.js';
import { runCliWithToolsFrom } from './cli.js';
import { igzipTools } from '../../src/compress/igzip.js';
import { opensslTool } from '../../src/compress/sha256-process.js';
import { NATIVE_INFLATE_ENV, nativeInflate } from '../../src/compress/native-inflate.js';

let work: string;
let good: string;
let bad: string;
const skip = igzipTools() && opensslTool() ? false : 'igzip, prlimit or openssl is not installed: layers are checked before they are read';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'oci2fs-early-'));
  good = join(work, 'good');
  bad = join(work, 'bad');
  // 3 MiB of incompressible data: a gzip layer over igzip's 1 MiB threshold
  const layers = [{ files: { 'big.bin': randomBytes(3 << 20), etc: { type: 'dir' as const }, 'etc/conf': 'a=1\n' } }];
  const img = await buildImage({ layers }, good);
  await buildImage({ layers, configExtra: { rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] } } }, bad);
  assert.notEqual(img.layers[0].diffId, `sha256:${'0'.repeat(64)}`);
  // an openssl that answers late, so every check ends after the output is written
  await mkdir(join(work, 'bin'));
  await writeFile(join(work, 'bin', 'openssl'), `#!/bin/sh\nsleep 1\nexec ${opensslTool()} "$@"\n`, { mode: 0o755 });
});

/** The CLI with the slow openssl first on PATH; the igzip and openssl programs, or the addon's inflate. */
function slowHash(args: string[], engine: 'programs' | 'native'): Promise<{ code: number; stderr: string }> {
  return runCliWithToolsFrom(join(work, 'bin'), args, engine === 'programs' ? { [NATIVE_INFLATE_ENV]: '0' } : {});
}

const ENGINES = [
  ['programs', skip],
  ['native', nativeInflate() ? false : 'the native addon was built without libisal (Debian package libisal-dev) or is missing'],
] as const;

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

for (const [engine, engineSkip] of ENGINES) {
  for (const [ext, cache] of [['tar', false], ['sqsh', true], ['sqsh', false], ['erofs', true]] as const) {
    test(`wrong diff_id of a layer read before its check: E_DIGEST_MISMATCH, nothing published (${ext}, cache ${cache ? 'on' : 'off'}, ${engine})`, { skip: engineSkip }, async () => {
      const dir = join(work, engine);
      await mkdir(dir, { recursive: true });
      const store = join(dir, `store-${ext}-${cache}`);
      const out = join(dir, `out-${ext}-${cache}.${ext}`);
      const r = await slowHash(['import', '--store', store, ...(cache ? [] : ['--no-cache']), `oci:${bad}`, '-o', out], engine);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /E_DIGEST_MISMATCH/);
      assert.equal(existsSync(out), false, 'no output');
      assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith(`out-${ext}-${cache}`)), [], 'no temp output beside it');
      const diffs = join(store, 'diffs', 'sha256');
      assert.deepEqual((await readdir(diffs)).filter((n) => !n.endsWith('.unsynced')), [], 'no spilled tar, temp or index');
      const artifacts = join(store, 'artifacts');
      if (existsSync(artifacts)) {
        assert.deepEqual((await readdir(artifacts)).filter((n) => n !== 'tmp' && !n.startsWith('.')), [], 'no artifact');
        if (existsSync(join(artifacts, 'tmp'))) assert.deepEqual(await readdir(join(artifacts, 'tmp')), [], 'no artifact being built left');
      }
      // the same content with the right diff_id imports into the same store
      const ok = await slowHash(['import', '--store', store, ...(cache ? [] : ['--no-cache']), `oci:${good}`, '-o', out], engine);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(existsSync(out));
      assert.deepEqual((await readdir(diffs)).filter((n) => n.includes('.tmp-')), [], 'temp names released');
    });
  }
}
