import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachInode, walk, type FileInode, type Inode } from './types.js';
import { newDir, IMPLICIT_DIR } from './path.js';

test('forEachInode visits exactly what walk visits (a hardlinked inode once per name), in any order', () => {
  const root = newDir(IMPLICIT_DIR);
  const usr = newDir(IMPLICIT_DIR);
  const bin = newDir(IMPLICIT_DIR);
  const file: FileInode = { kind: 'file', mode: 0o755, uid: 0, gid: 0, mtimeSec: 7, mtimeNsec: 0, xattrs: new Map(), size: 0, content: { kind: 'inline', data: new Uint8Array() } } as FileInode;
  const link: Inode = { kind: 'symlink', mode: 0o777, uid: 0, gid: 0, mtimeSec: 9, mtimeNsec: 0, xattrs: new Map(), target: 'bin' } as Inode;
  root.children.set('usr', usr);
  root.children.set('bin', link);
  usr.children.set('bin', bin);
  bin.children.set('tool', file);
  bin.children.set('alias', file); // hardlink: same inode, two names
  usr.children.set('empty', newDir(IMPLICIT_DIR));
  const byWalk: Inode[] = [];
  walk(root, (_p, i) => byWalk.push(i));
  const byVisit: Inode[] = [];
  forEachInode(root, (i) => byVisit.push(i));
  const count = (xs: Inode[]) => {
    const m = new Map<Inode, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  assert.equal(byVisit.length, 7);
  assert.deepEqual(count(byVisit), count(byWalk));
  assert.equal(count(byVisit).get(file), 2);
});
