/**
 * Real data: a system directory archived by GNU tar (a layer as a build tool
 * makes it: "./" names, pax, hardlinks) goes through our reader, flatten and
 * tar writer; GNU tar --compare checks our archive against the original
 * directory, and scanDirectory of the directory equals the flattened layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTarFile } from '../../src/tar/reader.js';
import { flattenLayers } from '../../src/tree/flatten.js';
import { scanDirectory } from '../../src/tree/scan.js';
import { validateTree } from '../../src/tree/validate.js';
import { writeTar } from '../../src/writers/tar/write.js';
import { describeTree } from './describe.js';

const SRC = '/usr/share/zoneinfo';

test(`GNU tar of ${SRC} → flatten → writeTar: tar --compare finds no difference`, async (t) => {
  if (!existsSync(SRC)) return t.skip(`${SRC} not present (tzdata)`);
  const tmp = await mkdtemp(join(tmpdir(), 'oci2fs-real-'));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  const layer = join(tmp, 'layer.tar');
  execFileSync('tar', ['--format=pax', '--xattrs', '--numeric-owner', '-cf', layer, '-C', SRC, '.']);
  const { root, warnings } = await flattenLayers([{ label: 'zoneinfo', tarPath: layer, entries: readTarFile(layer, { label: 'zoneinfo' }) }]);
  assert.deepEqual(warnings, []);
  const tree = validateTree(root);

  const scanned = await scanDirectory(SRC);
  assert.equal(await describeTree(scanned), await describeTree(root), 'scan of the directory == flatten of its GNU tar');

  const ours = join(tmp, 'ours.tar');
  await writeTar(tree, ours);
  const cmp = spawnSync('tar', ['--compare', '--numeric-owner', '-f', ours, '-C', SRC], { encoding: 'utf8' });
  // The root entry carries the root rule (docs/determinism.md), not the directory's own metadata.
  const diffs = cmp.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('./: '));
  assert.deepEqual(diffs, [], cmp.stderr);

  const again = join(tmp, 'again.tar');
  await writeTar(tree, again);
  assert.ok((await readFile(ours)).equals(await readFile(again)));
});
