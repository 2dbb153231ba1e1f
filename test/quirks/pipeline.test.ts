/**
 * flatten → finalize (enroot files, provenance, SOURCE_DATE_EPOCH) → tar and
 * dir writers, checked with GNU tar and the host filesystem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenLayers } from '../../src/tree/flatten.js';
import { finalizeTree } from '../../src/finalize/finalize.js';
import { writeTar } from '../../src/writers/tar/write.js';
import { writeDir } from '../../src/writers/dir/write.js';
import { QUIRK_CASES, layersOf } from './corpus.js';
import { HAVE_ATTR, NO_ATTR } from './tools.js';

test('finalized tree through writeTar and writeDir', async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'oci2fs-pipe-'));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  const c = QUIRK_CASES.find((q) => q.name === 'ids-modes-times')!;
  const { root } = await flattenLayers(await layersOf(c, join(tmp, 'l')));
  const tree = await finalizeTree(root, {
    sourceDateEpoch: 1_700_000_000,
    enroot: { env: ['PATH=/bin'], entrypoint: ['/bin/app'], workingDir: '/srv' },
    provenance: { uri: 'docker://example/app:1', manifestDigest: 'sha256:aa', configDigest: 'sha256:bb', platform: 'linux/amd64' },
  });
  const out = join(tmp, 'o.tar');
  await writeTar(tree, out);
  const list = execFileSync('tar', ['-tv', '--full-time', '--numeric-owner', '-f', out], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  assert.match(list, /^-rw-r--r-- +0\/0 +\d+ 2023-11-14 22:13:20 +etc\/rc$/m);
  assert.match(list, /^drwxr-xr-x +0\/0 +0 2023-11-14 22:13:20 +srv\/$/m);
  assert.match(list, /^-rw-r--r-- +0\/0 +1 2023-11-14 22:13:20 +future$/m, 'clamped');
  assert.match(list, /^-rw-r--r-- +0\/0 +1 1969-01-01 00:00:00 +old$/m, 'older kept');
  assert.equal(execFileSync('tar', ['-xOf', out, '.enroot/source'], { encoding: 'utf8' }), 'uri=docker://example/app:1\nmanifest-digest=sha256:aa\nconfig-digest=sha256:bb\nplatform=linux/amd64\n');

  if (!HAVE_ATTR && process.getuid?.() !== 0) return t.skip(NO_ATTR);
  const dir = join(tmp, 'd');
  await writeDir(tree, dir, { rootless: process.getuid?.() !== 0 });
  assert.equal(await readFile(join(dir, 'etc', 'environment'), 'utf8'), 'PATH=/bin\n');
  assert.match(await readFile(join(dir, 'etc', 'rc'), 'utf8'), /cd "\/srv" && unset OLDPWD \|\| exit 1\n[\s\S]*exec '\/bin\/app' "\$@"\n/);
  assert.equal(execFileSync('stat', ['-c', '%Y %a', join(dir, 'etc', 'rc.local')], { encoding: 'utf8' }), '1700000000 644\n');
});
