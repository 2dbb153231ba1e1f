/**
 * Internal journal: e2fsck accepts it, dumpe2fs reads the jbd2 superblock,
 * and the kernel uses it (the journal sequence advances after a
 * read-write mount with writes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateTree } from '../../tree/validate.js';
import type { DirInode } from '../../tree/types.js';
import { writeExt4 } from './index.js';
import { withLoopMount } from '../../../test/harness/mount.js';

function fsckClean(img: string): void {
  const r = spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.deepEqual(out.split('\n').filter((l) => l && !/^(e2fsck \d|Pass \d|.*: \d+\/\d+ files)/.test(l)), [], out);
}

const header = (img: string): string => execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

test('journal: valid jbd2 superblock, kernel replays nothing and logs new transactions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-ext4-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const base = { uid: 0, gid: 0, mtimeSec: 1_690_000_000, mtimeNsec: 0, xattrs: new Map<string, Uint8Array>() };
  const root: DirInode = { kind: 'dir', mode: 0o755, ...base, children: new Map() };
  const d = Buffer.from('journaled\n');
  root.children.set('f', { kind: 'file', mode: 0o644, ...base, size: d.length, content: { kind: 'inline', data: d } });
  const img = join(dir, 'j.img');
  await writeExt4(validateTree(root), img, { journal: true });
  fsckClean(img);
  const h = header(img);
  assert.match(h, /Filesystem features:.*has_journal/);
  assert.match(h, /Journal inode:\s+8/);
  assert.match(h, /Total journal blocks:\s+1024/);
  assert.match(h, /Journal start:\s+0/);
  const seq0 = Number(/Journal sequence:\s+(0x[0-9a-f]+)/.exec(h)?.[1]);

  // without a journal there is none
  const img2 = join(dir, 'n.img');
  await writeExt4(validateTree(root), img2);
  assert.doesNotMatch(header(img2), /has_journal/);

  const mounted = await withLoopMount(t, img, dir, {}, (mnt) => {
    for (let i = 0; i < 20; i++) writeFileSync(join(mnt, `n${i}`), `new ${i}\n`);
    execFileSync('sync');
  });
  if (!mounted) return;
  fsckClean(img);
  const seq1 = Number(/Journal sequence:\s+(0x[0-9a-f]+)/.exec(header(img))?.[1]);
  assert.ok(seq1 > seq0, `journal sequence ${seq0} → ${seq1}`);
});
