/**
 * writeTar over the quirk corpus, checked by GNU tar (listing and
 * extraction as root, then scanned back) and by re-import through our
 * reader + flatten; output must be byte-identical across runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTar } from './write.js';
import { planTar, planTarChunks, PLAN_CHUNK, tarName } from './plan.js';
import { walk } from '../../tree/types.js';
import { buildQuirkTrees } from '../../../test/quirks/corpus.js';
import { describeTree } from '../../../test/quirks/describe.js';
import { scanDirectory } from '../../tree/scan.js';
import { flattenLayers } from '../../tree/flatten.js';
import { readTarFile } from '../../tar/reader.js';
import { HAVE_ATTR, HAVE_UMOCI, NO_ATTR } from '../../../test/quirks/tools.js';

const tmp = await mkdtemp(join(tmpdir(), 'oci2fs-wtar-'));
test.after(() => rm(tmp, { recursive: true, force: true }));
const trees = await buildQuirkTrees(join(tmp, 'corpus'));
const isRoot = process.getuid?.() === 0;

for (const { name, tree } of trees) {
  test(`writeTar ${name}: GNU tar extracts the same tree; re-import is identical`, async (t) => {
    const out = join(tmp, `${name}.tar`);
    await writeTar(tree, out);
    const want = await describeTree(tree.root);

    if (isRoot && HAVE_ATTR) {
      const x = join(tmp, 'x', name);
      await mkdir(x, { recursive: true });
      execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-p', '--same-owner', '-xf', out, '-C', x]);
      assert.equal(await describeTree(await scanDirectory(x)), want, 'GNU tar extraction');
    }

    // Including xattrs with an empty value (user.empty in the corpus), which
    // GNU tar writes and restores and our reader keeps (not the POSIX
    // "empty value deletes the keyword" rule, which is for other keywords).
    const back = await flattenLayers([{ label: name, tarPath: out, entries: readTarFile(out, { label: name }) }]);
    assert.equal(await describeTree(back.root), want, 'our reader + flatten');
    if (!isRoot) t.skip('GNU tar extraction check needs root (owners, devices, trusted xattrs)');
    else if (!HAVE_ATTR) t.skip(NO_ATTR);
  });
}

test('writeTar is byte-reproducible (same tree from other layer files, two runs)', async () => {
  const again = await buildQuirkTrees(join(tmp, 'corpus2'));
  for (let i = 0; i < trees.length; i++) {
    const a = join(tmp, `r1-${i}.tar`);
    const b = join(tmp, `r2-${i}.tar`);
    await writeTar(trees[i].tree, a);
    await writeTar(again[i].tree, b);
    assert.ok((await readFile(a)).equals(await readFile(b)), trees[i].name);
  }
});

test('GNU tar listing: root first, hardlinks to the first path, numeric owners, no names', async () => {
  const { tree } = trees.find((t) => t.name === 'hardlinks-across-layers')!;
  const out = join(tmp, 'list.tar');
  await writeTar(tree, out);
  const list = execFileSync('tar', ['--xattrs', '-tvv', '--full-time', '--numeric-owner', '-f', out], { encoding: 'latin1' }).trim().split('\n');
  assert.match(list[0], /^drwxr-xr-x +0\/0 +0 1970-01-01 00:00:00 \.\/$/);
  assert.deepEqual(list.map((l) => l.replace(/^.* \d\d:\d\d:\d\d(\.\d+)? /, '')), [
    './', 'a', 'dir/', 'dir/ln', 'h', 'link link to dir/ln', 'orig link to dir/ln', 'sym -> orig', 'symhl link to sym',
  ]);
  const verbose = execFileSync('tar', ['-tvf', out], { encoding: 'latin1' });
  assert.doesNotMatch(verbose, /root/, 'no uname/gname');
});

test('GNU tar listing shows xattrs and 64-bit ids and times', async () => {
  const { tree } = trees.find((t) => t.name === 'xattrs-binary')!;
  const out = join(tmp, 'xattr.tar');
  await writeTar(tree, out);
  const list = execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-tvv', '--full-time', '--numeric-owner', '-f', out], { encoding: 'latin1' });
  assert.match(list, /\n {2}x: +20 security\.capability\n/);
  assert.match(list, /\n {2}x: +4 user\.bin\n/);
  const ids = trees.find((t) => t.name === 'ids-modes-times')!.tree;
  const out2 = join(tmp, 'ids.tar');
  await writeTar(ids, out2);
  const l2 = execFileSync('tar', ['-tv', '--full-time', '--numeric-owner', '-f', out2], { encoding: 'latin1', env: { ...process.env, TZ: 'UTC' } });
  assert.match(l2, /^-rw-r--r-- +70000\/4000000000 +1 2020-09-13 12:26:40 bigids$/m);
  assert.match(l2, /^-rw-r--r-- +0\/0 +1 2242-03-16 12:56:32\.123456789 future$/m);
  assert.match(l2, /^-rwsr-xr-x +0\/0 .* suid$/m);
});

test('writeTar to a stream leaves it open and writes the same bytes as the file path, for every quirk tree', async () => {
  // The file path has its own fast path (contents read straight into the
  // output buffers); sparse, inline and layer contents must come out the same.
  const { PassThrough } = await import('node:stream');
  for (const { name, tree } of trees) {
    const file = join(tmp, `stream-ref-${name}.tar`);
    await writeTar(tree, file);
    const pt = new PassThrough();
    const chunks: Buffer[] = [];
    pt.on('data', (c: Buffer) => chunks.push(c));
    await writeTar(tree, pt);
    assert.equal(pt.writableEnded, false);
    assert.ok(Buffer.concat(chunks).equals(await readFile(file)), name);
  }
});

test('writeTar refuses content that is only referenced, before writing anything', async () => {
  const { validateTree } = await import('../../tree/validate.js');
  const { newDir, IMPLICIT_DIR } = await import('../../tree/path.js');
  const { isOci2fsError } = await import('../../errors.js');
  const root = newDir(IMPLICIT_DIR);
  root.children.set('f', { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map(), size: 3, content: { kind: 'external', payload: 'ab/cdef' } });
  const { PassThrough } = await import('node:stream');
  const pt = new PassThrough();
  let bytes = 0;
  pt.on('data', (c: Buffer) => { bytes += c.length; });
  await assert.rejects(writeTar(validateTree(root), pt), (e: unknown) => isOci2fsError(e, 'E_TREE_INVALID'));
  assert.equal(bytes, 0);
});

test('umoci (Go archive/tar) unpacks our tar to the same tree', async (t) => {
  if (!isRoot) return t.skip('umoci unpack as root only');
  if (!HAVE_ATTR || !HAVE_UMOCI) return t.skip(HAVE_ATTR ? 'umoci not installed' : NO_ATTR);
  const { writeOciLayout } = await import('../../../test/quirks/oci-layout.js');
  const { spawnSync } = await import('node:child_process');
  for (const { name, tree } of trees) {
    const out = join(tmp, `umoci-${name}.tar`);
    await writeTar(tree, out);
    const layout = join(tmp, 'umoci-layout', name);
    await writeOciLayout(layout, [out]);
    const bundle = join(tmp, 'umoci-bundle', name);
    const r = spawnSync('umoci', ['unpack', '--image', `${layout}:t`, bundle], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    // umoci drops empty-valued xattrs; the root follows each tool's own rule.
    const opts = { skipRoot: true, ignoreXattrs: (k: string) => k === 'user.empty' };
    assert.equal(await describeTree(await scanDirectory(join(bundle, 'rootfs')), opts), await describeTree(tree.root, opts), name);
  }
});

test('sparse files are GNU sparse 1.0 entries: only their data is stored, GNU tar restores the holes', async () => {
  const { tree } = trees.find((t) => t.name === 'specials-empty-sparse')!;
  const out = join(tmp, 'sparse-out.tar');
  await writeTar(tree, out);
  const { statSync } = await import('node:fs');
  // 64 KiB + 8 KiB of logical content, 1.5 KiB of it data: the archive stays small.
  assert.ok(statSync(out).size < 16 * 1024, `archive is ${statSync(out).size} bytes`);
  const listing = execFileSync('tar', ['-tvf', out, '--numeric-owner'], { encoding: 'latin1' });
  assert.match(listing, / 65536 .* sparse\n/, 'GNU tar sees the real name and size');
  assert.match(listing, / 8192 .* allhole\n/);
  assert.doesNotMatch(listing, /GNUSparseFile/, 'the stand-in name is not what GNU tar extracts');
  const x = join(tmp, 'sparse-x');
  await mkdir(x, { recursive: true });
  execFileSync('tar', ['-xf', out, '-C', x]);
  const f = statSync(join(x, 'sparse'));
  assert.equal(f.size, 65536);
  assert.ok(f.blocks * 512 < f.size, `extracted with holes (${f.blocks} blocks)`);
  const data = await readFile(join(x, 'sparse'));
  assert.equal(data.subarray(0, 512).toString('latin1'), 'a'.repeat(512));
  assert.equal(data.subarray(40960, 40960 + 1024).toString('latin1'), 'b'.repeat(1024));
  assert.equal(data.subarray(512, 40960).every((b) => b === 0), true);
  assert.equal((await readFile(join(x, 'allhole'))).length, 8192);
});

test('planTarChunks: chunks of any size put together are planTar, in walk order, each at most the size asked', () => {
  for (const { name, tree } of trees) {
    const whole = planTar(tree).map((p) => p.header);
    // the order is walk()'s (the reference walk in tree/types.ts), sockets left out
    const walked: string[] = [];
    walk(tree.root, (path, inode) => {
      if (inode.kind !== 'socket') walked.push(tarName(path, inode));
    });
    assert.deepEqual(planTar(tree).map((p) => p.sparse?.realPath ?? p.header.path), walked, `${name}: walk order`);
    for (const size of [1, 2, 3, 7]) {
      const chunks = [...planTarChunks(tree, () => {}, size)];
      assert.ok(chunks.every((c) => c.length >= 1 && c.length <= size), `${name}: chunk sizes`);
      assert.deepEqual(chunks.flat().map((p) => p.header), whole, `${name}, chunks of ${size}`);
    }
  }
});

test('writeTar of a tree of more entries than one plan chunk: file and stream bytes equal, GNU tar lists every entry in order', async () => {
  const { validateTree } = await import('../../tree/validate.js');
  const { newDir, IMPLICIT_DIR } = await import('../../tree/path.js');
  const { PassThrough } = await import('node:stream');
  const root = newDir(IMPLICIT_DIR);
  const names: string[] = [];
  // 3 directories of PLAN_CHUNK files each (every chunk ends inside one), a hardlink across chunks
  for (let d = 0; d < 3; d++) {
    const dir = newDir(IMPLICIT_DIR);
    root.children.set(`d${d}`, dir);
    for (let i = 0; i < PLAN_CHUNK; i++) {
      const data = new Uint8Array(Buffer.from(`${d}/${i}\n`));
      dir.children.set(`f${String(i).padStart(5, '0')}`, { kind: 'file', mode: 0o644, uid: d, gid: i, mtimeSec: i, mtimeNsec: 0, xattrs: new Map(), size: data.length, content: { kind: 'inline', data } });
    }
  }
  const first = (root.children.get('d0') as import('../../tree/types.js').DirInode).children.get('f00000')!;
  (root.children.get('d2') as import('../../tree/types.js').DirInode).children.set('zlink', first);
  const tree = validateTree(root);
  const file = join(tmp, 'chunked.tar');
  const progress: [number, number][] = [];
  await writeTar(tree, file, { events: (e) => void (e.type === 'write-progress' && progress.push([e.done, e.total])) });
  const count = planTar(tree).length;
  assert.deepEqual(progress, [1000, 2000, 3000, 4000, 5000, 6000, count].map((d) => [d, count]), 'progress counts every entry against the total');
  const pt = new PassThrough();
  const parts: Buffer[] = [];
  pt.on('data', (c: Buffer) => parts.push(c));
  await writeTar(tree, pt);
  assert.ok(Buffer.concat(parts).equals(await readFile(file)), 'file path and stream path');
  for (let d = 0; d < 3; d++) {
    names.push(`d${d}/`);
    for (let i = 0; i < PLAN_CHUNK; i++) names.push(`d${d}/f${String(i).padStart(5, '0')}`);
  }
  names.push('d2/zlink');
  const list = execFileSync('tar', ['-tf', file], { encoding: 'latin1', maxBuffer: 64 << 20 }).trim().split('\n');
  assert.deepEqual(list, ['./', ...names]);
  const verbose = execFileSync('tar', ['-tvf', file, '--numeric-owner'], { encoding: 'latin1', maxBuffer: 64 << 20 });
  assert.match(verbose, /^hrw-r--r-- 0\/0 .* d2\/zlink link to d0\/f00000$/m);
});
