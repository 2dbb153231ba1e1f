/**
 * Layers spilled by igzip get their diffID hash (openssl) only after every
 * layer is decoded, at most cores − 1 at once (SpillOptions.hashAfterDecode):
 * hashing then runs while the writer waits on the disk instead of taking
 * cores from decoding and from our thread. igzip and openssl are wrapped on
 * PATH to log when each decode ends and each hash starts and ends; the first
 * igzip is made to end late, so a hash started as soon as its own layer was
 * decoded would show up before that end. The addon's one-pass inflate, which
 * hashes as it decodes, is turned off: this is the programs' path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildImage } from '../harness/image-builder.js';
import { runCliWithToolsFrom } from './cli.js';
import { igzipTools } from '../../src/compress/igzip.js';
import { opensslTool } from '../../src/compress/sha256-process.js';
import { NATIVE_INFLATE_ENV } from '../../src/compress/native-inflate.js';

let work: string;
let image: string;
const skip = igzipTools() && opensslTool() ? false : 'igzip, prlimit or openssl is not installed: layers are hashed while decoded, on our threads';

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'oci2fs-hashafter-'));
  image = join(work, 'image');
  // three gzip layers over igzip's 1 MiB threshold
  const layers = [0, 1, 2].map((i) => ({ files: { [`big${i}.bin`]: randomBytes(2 << 20) } }));
  await buildImage({ layers }, image);
  const bin = join(work, 'bin');
  await mkdir(bin);
  const log = join(work, 'log');
  const igzip = igzipTools()!.igzip;
  // The first igzip to start (layer 0: layers start in layer order) ends 1 s late.
  await writeFile(
    join(bin, 'igzip'),
    `#!/bin/sh
if mkdir ${join(work, 'first')} 2>/dev/null; then slow=1; else slow=; fi
${igzip} "$@"; rc=$?
[ -n "$slow" ] && sleep 1
echo "igzip-end $(date +%s%N)" >> ${log}
exit $rc
`,
    { mode: 0o755 },
  );
  // a hash that takes a while, so overlapping ones would show
  await writeFile(
    join(bin, 'openssl'),
    `#!/bin/sh
echo "openssl-start $(date +%s%N)" >> ${log}
sleep 0.3
${opensslTool()} "$@"; rc=$?
echo "openssl-end $(date +%s%N)" >> ${log}
exit $rc
`,
    { mode: 0o755 },
  );
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('diffID hashes start after every layer is decoded, at most cores - 1 at once', { skip }, async () => {
  const out = join(work, 'out.tar');
  const r = await runCliWithToolsFrom(join(work, 'bin'), ['import', '--store', join(work, 'store'), '--no-cache', `oci:${image}`, '-o', out], {
    [NATIVE_INFLATE_ENV]: '0',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(out));
  const lines = (await readFile(join(work, 'log'), 'utf8')).trim().split('\n').map((l) => l.split(' '));
  const at = (kind: string): bigint[] => lines.filter(([k]) => k === kind).map(([, v]) => BigInt(v));
  const ends = at('igzip-end');
  const starts = at('openssl-start');
  assert.equal(ends.length, 3, 'igzip decoded each layer');
  assert.equal(starts.length, 3, 'openssl hashed each layer');
  const lastEnd = ends.reduce((a, b) => (a > b ? a : b));
  for (const s of starts) assert.ok(s > lastEnd, `a hash started ${Number(lastEnd - s) / 1e6} ms before the last decode ended`);
  // most hashes running at one time, from the log's order of starts and ends
  let running = 0;
  let most = 0;
  for (const [k] of lines) {
    if (k === 'openssl-start') most = Math.max(most, ++running);
    if (k === 'openssl-end') running--;
  }
  assert.equal(most, Math.min(3, Math.max(1, availableParallelism() - 1)));
});
