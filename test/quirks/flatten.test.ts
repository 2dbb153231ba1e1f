/**
 * Golden-tree tests of layer flattening over the quirk corpus, plus a check
 * that the corpus layer tars themselves are what GNU tar reads (so the
 * golden trees rest on real archives, not on our own reader).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flattenLayers } from '../../src/tree/flatten.js';
import { validateTree } from '../../src/tree/validate.js';
import { isOci2fsError } from '../../src/errors.js';
import { QUIRK_CASES, layersOf, buildQuirkTrees } from './corpus.js';
import { describeTree } from './describe.js';

const tmp = await mkdtemp(join(tmpdir(), 'oci2fs-quirks-'));
test.after(() => rm(tmp, { recursive: true, force: true }));

for (const c of QUIRK_CASES) {
  test(`flatten quirk: ${c.name}`, async () => {
    const dir = join(tmp, 'strict', c.name);
    if (c.error !== undefined) {
      await assert.rejects(flattenLayers(await layersOf(c, dir)), (e: unknown) => isOci2fsError(e) && e.code === c.error && e.message.includes(c.name));
    } else {
      const { root, warnings } = await flattenLayers(await layersOf(c, dir));
      assert.deepEqual(warnings, []);
      validateTree(root);
      assert.equal(await describeTree(root), c.expect);
    }
    if (c.lenient) {
      const events: string[] = [];
      const { root, warnings } = await flattenLayers(await layersOf(c, join(tmp, 'lenient', c.name)), {
        lenient: true,
        events: (e) => { if (e.type === 'warning') events.push(e.code); },
      });
      assert.deepEqual(warnings.map((w) => w.code), c.lenient.warnings);
      assert.deepEqual(events, c.lenient.warnings);
      assert.equal(await describeTree(root), c.lenient.expect);
    }
  });
}

test('hardlinked paths share one inode object', async () => {
  const c = QUIRK_CASES.find((q) => q.name === 'hardlinks-across-layers')!;
  const { root } = await flattenLayers(await layersOf(c, join(tmp, 'hl')));
  const dir = root.children.get('dir');
  assert.ok(dir?.kind === 'dir');
  assert.equal(root.children.get('link'), dir.children.get('ln'));
  assert.equal(root.children.get('orig'), dir.children.get('ln'));
  assert.notEqual(root.children.get('a'), root.children.get('h'));
});

test('file contents reference the layer tar, never copies', async () => {
  const c = QUIRK_CASES.find((q) => q.name === 'whiteout-basic')!;
  const layers = await layersOf(c, join(tmp, 'ref'));
  const { root } = await flattenLayers(layers);
  const a = root.children.get('a');
  assert.ok(a?.kind === 'dir');
  const y = a.children.get('y');
  assert.ok(y?.kind === 'file' && y.content.kind === 'file');
  assert.equal(y.content.path, layers[0].tarPath);
  assert.equal(y.content.length, 1);
  assert.equal(y.content.offset % 512, 0);
});

test('corpus layer tars are read identically by GNU tar', () => {
  // Independent oracle for the test tar builder: GNU tar must list the same
  // names, types, owners and link targets the builder claims to have written.
  const c = QUIRK_CASES.find((q) => q.name === 'long-names')!;
  return layersOf(c, join(tmp, 'gnu')).then((layers) => {
    const out = execFileSync('tar', ['--numeric-owner', '-tvf', layers[0].tarPath], { encoding: 'latin1' });
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 5);
    assert.match(lines[1], new RegExp(`^-rw-r--r-- 0/0 +1 .* ${'n'.repeat(150)}/${'x'.repeat(255)}$`));
    assert.match(lines[2], new RegExp(`^lrwxrwxrwx 0/0 .* longlink -> /${'t'.repeat(299)}$`));
    assert.match(lines[4], new RegExp(`^hrw-r--r-- 0/0 .* hl-x+ link to ${'n'.repeat(150)}/x+$`));
  });
});

test('sparse and special entries of the builder agree with GNU tar extraction', async () => {
  const c = QUIRK_CASES.find((q) => q.name === 'specials-empty-sparse')!;
  const layers = await layersOf(c, join(tmp, 'gnusparse'));
  const out = join(tmp, 'gnusparse-x');
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['-xf', layers[0].tarPath, '-C', out, '--numeric-owner']);
  const sum = execFileSync('sha256sum', [join(out, 'sparse'), join(out, 'allhole')], { encoding: 'utf8' });
  assert.match(sum, /^6f4eaa30d31fdc56/m);
  assert.match(sum, /^9f1dcbc35c350d60/m);
  const ls = execFileSync('ls', ['-ln', out], { encoding: 'utf8' });
  assert.match(ls, /^crw-rw-rw- 1 0 0 +1, +3 .* null$/m);
  assert.match(ls, /^prw-r--r-- 1 0 0 .* fifo$/m);
});

test('buildQuirkTrees yields every non-error case as a validated tree', async () => {
  const trees = await buildQuirkTrees(join(tmp, 'all'));
  assert.deepEqual(trees.map((t) => t.name), QUIRK_CASES.filter((c) => !c.error).map((c) => c.name));
});
