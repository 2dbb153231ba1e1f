/**
 * The tar reader (src/tar) must yield, for every quirk layer, exactly the
 * entries the test builder wrote (names, types, metadata, xattrs, data
 * offsets, sparse maps) — so the corpus trees equal what the real pipeline
 * (readTarFile → flattenLayers) builds from the same files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTarFile } from '../../src/tar/reader.js';
import { flattenLayers } from '../../src/tree/flatten.js';
import type { TarEntry } from '../../src/tar/entry.js';
import { QUIRK_CASES } from './corpus.js';
import { buildLayerTar } from './tarbuild.js';
import { describeTree } from './describe.js';

const tmp = await mkdtemp(join(tmpdir(), 'oci2fs-rdr-'));
test.after(() => rm(tmp, { recursive: true, force: true }));

/**
 * Comparable form. Zero-length sparse runs carry no data (GNU tar writes a
 * final one at the logical size; the reader may drop it).
 */
const plain = (e: TarEntry) => ({
  ...e,
  xattrs: [...e.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort(),
  ...(e.sparse ? { sparse: e.sparse.filter((r) => r.length > 0) } : {}),
});

for (const c of QUIRK_CASES) {
  test(`tar reader agrees with the corpus builder: ${c.name}`, async () => {
    const layers = [];
    for (let i = 0; i < c.layers.length; i++) {
      const p = join(tmp, `${c.name}-${i}.tar`);
      const want = await buildLayerTar(p, c.layers[i]);
      const got: TarEntry[] = [];
      for await (const e of readTarFile(p, { label: `${c.name}#${i}` })) got.push(e);
      assert.deepEqual(got.map(plain), want.map(plain));
      layers.push({ label: `${c.name}#${i}`, tarPath: p, entries: readTarFile(p, { label: `${c.name}#${i}` }) });
    }
    if (c.expect !== undefined) assert.equal(await describeTree((await flattenLayers(layers)).root), c.expect);
  });
}

test('tar reader keeps xattrs with an empty value (GNU tar and Go archive/tar do)', async () => {
  const p = join(tmp, 'empty-xattr.tar');
  await buildLayerTar(p, [{ path: 'f', type: 'file', data: 'x', xattrs: { 'user.empty': '' } }]);
  for await (const e of readTarFile(p, { label: 'empty-xattr' })) assert.deepEqual([...e.xattrs.keys()], ['user.empty']);
});
