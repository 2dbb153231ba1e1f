import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeComponents, resolveDir, lookup, newDir, IMPLICIT_DIR, MAX_SYMLINK_FOLLOWS } from './path.js';
import type { DirInode, SymlinkInode } from './types.js';

const sym = (target: string): SymlinkInode => ({ kind: 'symlink', target, mode: 0o777, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map() });

test('normalizeComponents', () => {
  assert.deepEqual(normalizeComponents('./a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(normalizeComponents('/'), []);
  assert.deepEqual(normalizeComponents('.'), []);
  assert.deepEqual(normalizeComponents('a/../b'), ['b']);
  assert.deepEqual(normalizeComponents('/abs/x'), ['abs', 'x']);
  assert.deepEqual(normalizeComponents('a\\..\\b'), ['a\\..\\b'], 'backslash is an ordinary byte');
  assert.equal(normalizeComponents('..'), null);
  assert.equal(normalizeComponents('a/../../b'), null);
  assert.equal(normalizeComponents('/../x'), null);
});

test('resolveDir follows symlinks inside the tree only, bounded', () => {
  const root = newDir(IMPLICIT_DIR);
  const usr = newDir(IMPLICIT_DIR);
  root.children.set('usr', usr);
  root.children.set('up', sym('../../../usr'));
  root.children.set('abs', sym('/usr/'));
  const r1 = resolveDir(root, ['up'], false);
  assert.ok(r1.ok && r1.dir === usr);
  const r2 = resolveDir(root, ['abs'], false);
  assert.ok(r2.ok && r2.dir === usr);
  assert.deepEqual(resolveDir(root, ['nope', 'x'], false), { ok: false, reason: 'missing', at: '/nope' });
  const made = resolveDir(root, ['abs', 'new', 'deeper'], true);
  assert.ok(made.ok && made.created.length === 2);
  assert.ok((usr.children.get('new') as DirInode).children.has('deeper'));
  // a chain longer than MAX_SYMLINK_FOLLOWS is a loop
  for (let i = 0; i <= MAX_SYMLINK_FOLLOWS; i++) root.children.set(`c${i}`, sym(`c${i + 1}`));
  root.children.set(`c${MAX_SYMLINK_FOLLOWS + 1}`, sym('usr'));
  assert.equal(resolveDir(root, ['c0'], false).ok, false);
  assert.equal(resolveDir(root, [`c2`], false).ok, true);
  // lookup does not follow the last component
  assert.equal(lookup(root, ['abs'])?.kind, 'symlink');
  assert.equal(lookup(root, ['abs', 'new'])?.kind, 'dir');
});
