/**
 * Multi-group images: used inodes spread over several groups, a file that
 * crosses the backup superblock of group 1 (its extents must skip it),
 * backup superblocks readable by e2fsck, and a fixed size far larger
 * than the content (sparse output).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateTree } from '../../tree/validate.js';
import type { DirInode, FileInode } from '../../tree/types.js';
import { writeExt4 } from './index.js';
import { withLoopMount } from '../../../test/harness/mount.js';

const MiB = 1 << 20;

function fsck(args: string[]): { status: number; out: string } {
  const r = spawnSync('e2fsck', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

test('multi-group image: inodes in several groups, data across a backup superblock', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-ext4-groups-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bigSize = 140 * MiB + 777;
  const big = Buffer.alloc(bigSize);
  for (let i = 0; i + 4 <= bigSize; i += 4) big.writeUInt32LE((i ^ 0x5bd1e995) >>> 0, i);
  writeFileSync(join(dir, 'big.src'), big);
  const bigSha = createHash('sha256').update(big).digest('hex');
  const base = { uid: 0, gid: 0, mtimeSec: 1_650_000_000, mtimeNsec: 0, xattrs: new Map<string, Uint8Array>() };
  const root: DirInode = { kind: 'dir', mode: 0o755, ...base, children: new Map() };
  const bigFile: FileInode = { kind: 'file', mode: 0o644, ...base, size: bigSize, content: { kind: 'file', path: join(dir, 'big.src'), offset: 0, length: bigSize } };
  root.children.set('big', bigFile);
  for (let i = 0; i < 60; i++) {
    const d = Buffer.from(`file ${i}\n`);
    root.children.set(`f${i}`, { kind: 'file', mode: 0o644, ...base, size: d.length, content: { kind: 'inline', data: d } });
  }
  const img = join(dir, 'g.img');
  const size = 1024 * MiB;
  const r = await writeExt4(validateTree(root), img, { size, inodes: 128 });
  assert.equal(r.bytes, size);
  assert.equal(r.blocks, size / 4096);
  assert.equal(r.inodes, 128); // 8 groups × 16
  assert.ok(statSync(img).blocks * 512 < 200 * MiB, 'image is sparse');

  const primary = fsck(['-fn', img]);
  assert.equal(primary.status, 0, primary.out);
  const noise = primary.out.split('\n').filter((l) => l && !/^(e2fsck \d|Pass \d|.*: \d+\/\d+ files \()/.test(l));
  assert.deepEqual(noise, [], primary.out);
  // every backup superblock + descriptor copy is valid on its own
  for (const b of [32768, 98304, 163840, 229376]) {
    const backup = fsck(['-fn', '-b', String(b), '-B', '4096', img]);
    assert.equal(backup.status, 0, `backup at ${b}: ${backup.out}`);
  }
  const groups = execFileSync('dumpe2fs', [img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(groups, /Group 7: /);
  assert.match(groups, /Backup superblock at 32768/);
  // 72 inodes in use (11 reserved + root's 61 entries): groups 0-3 full, group 4 half, 5-7 empty
  const section = (g: number): string => groups.split(`Group ${g}:`)[1].split(`Group ${g + 1}:`)[0];
  for (const g of [0, 1, 2, 3]) assert.match(section(g), / 0 free inodes/, section(g));
  assert.match(section(4), / 8 free inodes/, section(4));
  for (const g of [5, 6]) assert.match(section(g), / 16 free inodes/, section(g));

  const ex = execFileSync('debugfs', ['-R', 'ex /big', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const starts = [...ex.matchAll(/^\s*\d+\/\s*\d+\s+\d+\/\s*\d+\s+(\d+)\s*-\s*(\d+)\s+(\d+)\s*-\s*(\d+)/gm)].map((m) => [Number(m[3]), Number(m[4])]);
  assert.ok(starts.length >= 2, ex);
  for (const [s, e] of starts) assert.ok(e < 32768 || s > 32768, `extent ${s}-${e} overlaps the group 1 backup superblock`);

  const out = join(dir, 'big.out');
  execFileSync('debugfs', ['-R', `dump /big ${out}`, img], { stdio: 'ignore' });
  assert.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), bigSha);
  rmSync(out);

  const mounted = await withLoopMount(t, img, dir, {}, (mnt) => {
    assert.equal(createHash('sha256').update(readFileSync(join(mnt, 'big'))).digest('hex'), bigSha);
    assert.equal(readFileSync(join(mnt, 'f59'), 'utf8'), 'file 59\n');
    writeFileSync(join(mnt, 'after'), Buffer.alloc(3 * MiB, 1));
  });
  if (!mounted) return;
  const after = fsck(['-fn', img]);
  assert.equal(after.status, 0, after.out);
});
