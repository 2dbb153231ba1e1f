/**
 * scanDirectory against GNU tar: quirk layers extracted by GNU tar (as root,
 * with xattrs, numeric owners, permissions) must scan back to the very tree
 * flatten built from the same layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile, link, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenLayers } from '../../src/tree/flatten.js';
import { scanDirectory } from '../../src/tree/scan.js';
import { readAll } from '../../src/tree/content.js';
import { QUIRK_CASES, layersOf } from './corpus.js';
import { describeTree } from './describe.js';
import { HAVE_ATTR, NO_ATTR } from './tools.js';

const tmp = await mkdtemp(join(tmpdir(), 'oci2fs-scan-'));
test.after(() => rm(tmp, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
const SINGLE_LAYER = ['odd-names', 'ids-modes-times', 'xattrs-binary', 'specials-empty-sparse', 'long-names', 'root-metadata-from-usr'];

for (const name of SINGLE_LAYER) {
  test(`scan of GNU-tar-extracted ${name} equals the flattened tree`, async (t) => {
    if (!isRoot) return t.skip('needs root to restore owners, devices and trusted/security xattrs');
    if (!HAVE_ATTR) return t.skip(NO_ATTR);
    const c = QUIRK_CASES.find((q) => q.name === name)!;
    const layers = await layersOf(c, join(tmp, 'layers', name));
    const { root } = await flattenLayers(layers);
    const out = join(tmp, 'x', name);
    await mkdir(out, { recursive: true });
    execFileSync('tar', ['--xattrs', "--xattrs-include=*", '--numeric-owner', '-p', '--same-owner', '-xf', layers[0].tarPath, '-C', out]);
    const scanned = await scanDirectory(out);
    // The root of an extraction directory is ours, not the layer's: the root
    // rule makes both sides comparable unless the case has /usr.
    assert.equal(await describeTree(scanned), await describeTree(root));
  });
}

test('scan: hardlinks by inode, byte names, file content references', async () => {
  const d = join(tmp, 'hand');
  await mkdir(join(d, 'sub'), { recursive: true });
  await writeFile(join(d, 'sub', 'a'), 'hello');
  await link(join(d, 'sub', 'a'), join(d, 'b'));
  await symlink('../x\\y', join(d, 'sub', 'l'));
  await writeFile(Buffer.concat([Buffer.from(d + '/bad'), Buffer.from([0xff])]), 'raw');
  const root = await scanDirectory(d);
  const sub = root.children.get('sub');
  assert.ok(sub?.kind === 'dir');
  assert.equal(root.children.get('b'), sub.children.get('a'));
  const l = sub.children.get('l');
  assert.ok(l?.kind === 'symlink' && l.target === '../x\\y');
  const bad = root.children.get('bad\xff');
  assert.ok(bad?.kind === 'file');
  assert.equal((await readAll(bad)).toString(), 'raw');
  assert.ok(bad.content.kind === 'file' && bad.content.pathIsBytes === true);
  // no /usr: the root gets the implicit-directory metadata
  assert.equal(root.mode, 0o755);
  assert.equal(root.mtimeSec, 0);
});

test('scan without getfattr: xattrs skipped with a warning event', async () => {
  const d = join(tmp, 'noattr');
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'f'), 'x');
  const saved = process.env.PATH;
  const events: string[] = [];
  process.env.PATH = '/nonexistent';
  try {
    await scanDirectory(d, { events: (e) => { if (e.type === 'warning') events.push(e.code); } });
  } finally {
    process.env.PATH = saved;
  }
  assert.deepEqual(events, ['W_NO_XATTR_TOOLS']);
});
