/**
 * writeDir over the quirk corpus: the written directory scans back to the
 * same tree (scan itself is checked against GNU tar), agrees with `umoci
 * unpack` of the same layers, never writes outside its directory, and the
 * unprivileged mode records owners as umoci does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDir } from './write.js';
import { encodeRootlessOwner } from './rootless.js';
import { buildQuirkTrees, QUIRK_CASES, layersOf } from '../../../test/quirks/corpus.js';
import { describeTree } from '../../../test/quirks/describe.js';
import { writeOciLayout } from '../../../test/quirks/oci-layout.js';
import { scanDirectory } from '../../tree/scan.js';
import { isOci2fsError } from '../../errors.js';
import { HAVE_ATTR, HAVE_UMOCI, NO_ATTR } from '../../../test/quirks/tools.js';

const tmp = await mkdtemp(join(tmpdir(), 'oci2fs-wdir-'));
test.after(() => rm(tmp, { recursive: true, force: true }));
const trees = await buildQuirkTrees(join(tmp, 'corpus'));
const isRoot = process.getuid?.() === 0;

for (const { name, tree } of trees) {
  test(`writeDir ${name} (root): scans back to the same tree`, async (t) => {
    if (!isRoot) return t.skip('exact ownership, devices and trusted xattrs need root');
    if (!HAVE_ATTR) return t.skip(NO_ATTR);
    const out = join(tmp, 'out', name);
    const { skipped } = await writeDir(tree, out);
    assert.deepEqual(skipped, []);
    assert.equal(await describeTree(await scanDirectory(out)), await describeTree(tree.root));
  });
}

/** Cases where umoci's unpack must agree with ours entry by entry (root and implicit-dir metadata are runtime choices). */
// Not compared: opaque-any-order (umoci leaves /e with the wall-clock mtime its
// later child creation gave it), hardlink-to-itself (umoci fails on it),
// aufs-metadata-ignored (umoci keeps .wh..wh.* entries; moby skips them, as we do).
const UMOCI_CASES = ['dir-over-dir-metadata-and-implicit-parents', 'path-normalisation-and-root-entries', 'symlink-parents-stay-inside', 'whiteout-through-symlink', 'opaque-through-symlink', 'deep-nesting', 'whiteout-basic', 'whiteout-after-add-same-layer', 'whiteout-before-add-same-layer', 'whiteout-dir-subtree-and-missing', 'type-replacements', 'hardlinks-across-layers', 'odd-names', 'ids-modes-times', 'xattrs-binary', 'specials-empty-sparse', 'long-names'];

for (const name of UMOCI_CASES) {
  test(`writeDir ${name} agrees with umoci unpack`, async (t) => {
    if (!isRoot) return t.skip('umoci unpack comparison runs as root');
    if (!HAVE_ATTR || !HAVE_UMOCI) return t.skip(HAVE_ATTR ? 'umoci not installed' : NO_ATTR);
    const c = QUIRK_CASES.find((q) => q.name === name)!;
    const layers = await layersOf(c, join(tmp, 'um-layers', name));
    const layout = join(tmp, 'um-layout', name);
    await writeOciLayout(layout, layers.map((l) => l.tarPath));
    const bundle = join(tmp, 'um-bundle', name);
    const r = spawnSync('umoci', ['unpack', '--image', `${layout}:t`, bundle], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ours = join(tmp, 'out', name);
    const tree = trees.find((x) => x.name === name)!.tree;
    await rm(ours, { recursive: true, force: true });
    await writeDir(tree, ours);
    // umoci does not restore xattrs with an empty value (GNU tar and we do).
    const opts = { skipRoot: true, ignoreXattrs: (k: string) => k === 'user.empty' };
    const mine = await describeTree(await scanDirectory(ours), opts);
    let theirs = await describeTree(await scanDirectory(join(bundle, 'rootfs')), opts);
    // Implicit parent directories: we date them 0 (docs/determinism.md), umoci uses the wall clock.
    for (const m of mine.matchAll(/^(\S+) dir 0755 0:0 0\.000000000$/gm)) {
      theirs = theirs.replace(new RegExp(`^${m[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} dir 0755 0:0 \\d+\\.\\d+$`, 'm'), m[0]);
    }
    assert.equal(mine, theirs);
  });
}

test('writeDir refuses a non-empty directory and a file', async () => {
  const d = join(tmp, 'nonempty');
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'x'), 'x');
  await assert.rejects(writeDir(trees[0].tree, d), (e: unknown) => isOci2fsError(e, 'E_USAGE'));
  await assert.rejects(writeDir(trees[0].tree, join(d, 'x')), (e: unknown) => isOci2fsError(e, 'E_USAGE'));
});

test('writeDir never writes outside its directory, whatever symlinks say', async () => {
  const { tree } = trees.find((x) => x.name === 'symlink-parents-stay-inside')!;
  const box = join(tmp, 'box');
  await mkdir(box);
  const out = join(box, 'out');
  await writeDir(tree, out, { rootless: !isRoot });
  assert.deepEqual(await readdir(box), ['out']);
  assert.deepEqual((await readdir(out)).sort(), ['etc', 'evil', 'lib', 'top', 'up', 'usr']);
  assert.equal(execFileSync('readlink', [join(out, 'up')], { encoding: 'utf8' }), '../../..\n');
  assert.equal(execFileSync('cat', [join(out, 'etc', 'passwd')], { encoding: 'utf8' }), 'P');
});

test('rootless owner xattr encoding (rootlesscontainers proto)', () => {
  assert.equal(encodeRootlessOwner(0, 0), null);
  assert.deepEqual([...encodeRootlessOwner(1000, 0)!], [0x08, 0xe8, 0x07]);
  assert.deepEqual([...encodeRootlessOwner(0, 5)!], [0x10, 0x05]);
  assert.deepEqual([...encodeRootlessOwner(70000, 4_000_000_000)!], [0x08, 0xf0, 0xa2, 0x04, 0x10, 0x80, 0xd0, 0xac, 0xf3, 0x0e]);
});

test('writeDir unprivileged: owners in user.rootlesscontainers, devices skipped', async (t) => {
  if (!isRoot) return t.skip('runs a child as nobody; needs root to switch user');
  if (!HAVE_ATTR) return t.skip(NO_ATTR);
  if (spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv not available');
  const work = await mkdtemp(join(tmpdir(), 'oci2fs-rootless-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  await chmod(work, 0o777);
  const here = new URL('.', import.meta.url).pathname;
  const script = join(work, 'child.mjs');
  await writeFile(script, `
    import { writeDir } from ${JSON.stringify(join(here, 'write.js'))};
    import { buildQuirkTrees } from ${JSON.stringify(join(here, '../../../test/quirks/corpus.js'))};
    const trees = await buildQuirkTrees(${JSON.stringify(join(work, 'corpus'))});
    const out = {};
    for (const n of ['ids-modes-times', 'specials-empty-sparse', 'xattrs-binary', 'restrictive-dirs']) {
      out[n] = (await writeDir(trees.find((t) => t.name === n).tree, ${JSON.stringify(join(work, 'out'))} + '/' + n)).skipped;
    }
    console.log(JSON.stringify(out));
  `);
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, script], { encoding: 'utf8', cwd: work });
  assert.equal(r.status, 0, r.stderr);
  const skipped = JSON.parse(r.stdout) as Record<string, { path: string; what: string }[]>;
  assert.deepEqual(skipped['specials-empty-sparse'].map((s) => s.path).sort(), ['/bigminor', '/null', '/sda1']);
  assert.deepEqual(skipped['xattrs-binary'].map((s) => s.what).sort(), ['xattr security.capability (needs root)', 'xattr trusted.t (needs root)']);
  assert.deepEqual(skipped['ids-modes-times'], []);
  assert.deepEqual(skipped['restrictive-dirs'], []);
  const times = execFileSync('stat', ['-c', '%a %y %n', join(work, 'out', 'restrictive-dirs', 'none'), join(work, 'out', 'restrictive-dirs', 'none', 'g')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  assert.match(times, /^0 2020-09-13 12:26:40\.000000004 \+0000 .*\/none\n400 1969-12-31 23:59:53\.000000001 \+0000 .*\/none\/g\n$/);
  const dump = execFileSync('getfattr', ['-d', '-m', '-', '-e', 'hex', join(work, 'out', 'ids-modes-times', 'bigids'), join(work, 'out', 'xattrs-binary', 'bin')], { encoding: 'utf8' });
  assert.match(dump, /bigids\nuser\.rootlesscontainers=0x08f0a2041080d0acf30e\n/);
  assert.match(dump, /bin\nuser\.bin=0x00ff0a3d\nuser\.empty=0x\n/);
  const ls = execFileSync('stat', ['-c', '%a %u %n', join(work, 'out', 'ids-modes-times', 'suid')], { encoding: 'utf8' });
  assert.match(ls, /^4755 65534 /);
});

test('writeDir creates sockets and wraps host errors as E_IO', async (t) => {
  const { validateTree } = await import('../../tree/validate.js');
  const { newDir, IMPLICIT_DIR } = await import('../../tree/path.js');
  const root = newDir(IMPLICIT_DIR);
  root.children.set('sock', { kind: 'socket', mode: 0o755, uid: 0, gid: 0, mtimeSec: 5, mtimeNsec: 0, xattrs: new Map() });
  root.children.set('fifo', { kind: 'fifo', mode: 0o600, uid: 0, gid: 0, mtimeSec: 5, mtimeNsec: 0, xattrs: new Map([['user.x', new Uint8Array([1])]]) });
  const out = join(tmp, 'sock');
  const { skipped } = await writeDir(validateTree(root), out, { rootless: !isRoot });
  assert.deepEqual(skipped, [{ path: '/fifo', what: 'xattr user.x (user.* xattrs are not allowed on a fifo)' }]);
  assert.match(execFileSync('stat', ['-c', '%F %a %Y', join(out, 'sock')], { encoding: 'utf8' }), /^socket 755 5\n$/);

  // A path longer than PATH_MAX (4096) cannot be reached by path-based syscalls.
  const deep = newDir(IMPLICIT_DIR);
  let d = deep;
  for (let i = 0; i < 20; i++) {
    const c = newDir(IMPLICIT_DIR);
    d.children.set('z'.repeat(250), c);
    d = c;
  }
  if (!isRoot) t.diagnostic('rootless run');
  await assert.rejects(writeDir(validateTree(deep), join(tmp, 'deep')), (e: unknown) => isOci2fsError(e, 'E_IO') && /PATH_MAX/.test((e as Error).message));
});
