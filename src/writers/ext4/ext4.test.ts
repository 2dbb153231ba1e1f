/**
 * writeExt4 end to end, checked with independent tools: e2fsck -fn must be
 * silent, debugfs must report what the tree says, and the kernel must
 * mount the image read-write and show the same files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOci2fsError, ErrorCode } from '../../errors.js';
import { validateTree } from '../../tree/validate.js';
import { writeExt4 } from './index.js';
import { buildTestTree, expectedEntries, type Expected } from './testtree.js';

function e2fsck(img: string): { status: number; out: string } {
  const r = spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** e2fsck -fn must exit 0 and print nothing but its banner, pass names and summary. */
function assertClean(img: string): void {
  const { status, out } = e2fsck(img);
  const noise = out
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^e2fsck \d/.test(l) && !/^Pass \d[A-Z]?: /.test(l) && !/: \d+\/\d+ files \(/.test(l));
  assert.deepEqual(noise, [], out);
  assert.equal(status, 0, out);
}

function debugfs(img: string, cmd: string): string {
  return execFileSync('debugfs', ['-R', cmd, img], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function canMount(dir: string): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  const img = join(dir, 'probe.img');
  const mnt = join(dir, 'probe');
  mkdirSync(mnt);
  try {
    execFileSync('mkfs.ext4', ['-q', '-F', img, '2M'], { stdio: 'ignore' });
    execFileSync('mount', ['-o', 'loop', img, mnt], { stdio: 'ignore' });
    execFileSync('umount', [mnt], { stdio: 'ignore' });
    return null;
  } catch (e) {
    return `loop mount failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(img, { force: true });
  }
}

test('ext4 image of every inode kind: e2fsck clean, debugfs and kernel agree with the tree', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-ext4-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = buildTestTree(dir);
  const tree = validateTree(root);
  const expected = expectedEntries(root);
  const img = join(dir, 'a.img');
  const res = await writeExt4(tree, img, { label: 'rootfs', mtime: 1_700_000_000 });
  assert.equal(statSync(img).size, res.bytes);
  assert.ok(statSync(img).blocks * 512 < res.bytes, 'output is sparse');
  assertClean(img);

  await t.test('determinism: a second run is byte-identical', async () => {
    const img2 = join(dir, 'b.img');
    await writeExt4(validateTree(buildTestTree(dir)), img2, { label: 'rootfs', mtime: 1_700_000_000 });
    assert.equal(sha(readFileSync(img2)), sha(readFileSync(img)));
    rmSync(img2);
  });

  await t.test('debugfs stat / ea_list / extents match', () => {
    const stats = debugfs(img, 'stats');
    assert.match(stats, /Filesystem volume name:\s+rootfs/);
    assert.match(stats, /Filesystem features:.*metadata_csum/);
    for (const e of expected.filter((x) => x.debugfs)) {
      const s = debugfs(img, `stat "${e.path}"`);
      const mode = /Mode:\s+(\d+)/.exec(s)?.[1];
      assert.equal(parseInt(mode ?? 'x', 8), e.mode & 0o7777, `${e.path} mode\n${s}`);
      assert.equal(Number(/User:\s+(\d+)/.exec(s)?.[1]), e.uid, `${e.path} uid`);
      assert.equal(Number(/Group:\s+(\d+)/.exec(s)?.[1]), e.gid, `${e.path} gid`);
      assert.equal(Number(/Links:\s+(\d+)/.exec(s)?.[1]), e.nlink, `${e.path} links`);
      if (e.kind === 'file') assert.equal(Number(/Size:\s+(\d+)/.exec(s)?.[1]), e.size, `${e.path} size`);
      if (e.kind === 'symlink') {
        const fast = /Fast link dest:\s+"(.*)"/.exec(s)?.[1];
        if (e.target.length < 60) assert.equal(fast, e.target);
        else assert.equal(debugfs(img, `cat "${e.path}"`), e.target);
      }
      if (e.kind === 'chardev' || e.kind === 'blockdev') {
        const m = /Device major\/minor number:\s+0*(\d+):0*(\d+)/.exec(s);
        assert.deepEqual([Number(m?.[1]), Number(m?.[2])], [e.rdevMajor, e.rdevMinor], s);
      }
      const ea = debugfs(img, `ea_list "${e.path}"`);
      for (const [k, v] of e.xattrs) {
        // debugfs shows ACLs in ext4's shorter disk form; the mount test compares their xattr form
        const isAcl = k.startsWith('system.posix_acl');
        assert.ok(ea.includes(isAcl ? `${k} (` : `${k} (${v.length})`), `${e.path}: ${k} missing\n${ea}`);
        if (isAcl) continue;
        const got = join(dir, 'ea.out');
        rmSync(got, { force: true });
        execFileSync('debugfs', ['-R', `ea_get -f ${got} "${e.path}" ${k}`, img], { stdio: 'ignore' });
        assert.equal(Buffer.from(readFileSync(got)).toString('hex'), Buffer.from(v).toString('hex'), `${e.path} ${k}`);
      }
      assert.equal(ea.split('\n').filter((l) => /^\s+\S+ \(\d+\)/.test(l)).length, e.xattrs.length, `${e.path}: extra xattrs\n${ea}`);
    }
    // the fragmented file has more than 4 extents: its tree has a leaf level
    const ex = debugfs(img, 'ex /frag/fragmented');
    assert.match(ex, /^\s*0\/\s*1\s/m, ex);
    assert.match(ex, /^\s*1\/\s*1\s/m, ex);
    // identical large xattr sets share one block
    const acl1 = /File ACL:\s+(\d+)/.exec(debugfs(img, 'stat /x/shared1'))?.[1];
    const acl2 = /File ACL:\s+(\d+)/.exec(debugfs(img, 'stat /x/shared2'))?.[1];
    assert.ok(acl1 && acl1 !== '0');
    assert.equal(acl1, acl2);
    // the big directory is hash-indexed
    assert.match(debugfs(img, 'stat /big'), /Flags: 0x81000/);
    assert.match(debugfs(img, 'htree /big'), /Root node dump:/);
  });

  await t.test('debugfs rdump reproduces contents and link targets', () => {
    const out = join(dir, 'rdump');
    mkdirSync(out);
    execFileSync('debugfs', ['-R', `rdump /data ${out}`, img], { stdio: 'ignore' });
    for (const e of expected.filter((x) => x.path.startsWith('/data/'))) {
      const p = Buffer.concat([Buffer.from(out), Buffer.from(e.path, 'latin1')]);
      if (e.kind === 'file') assert.equal(sha(readFileSync(p)), e.sha256, e.path);
      if (e.kind === 'symlink') assert.equal(readlinkSync(p, { encoding: 'latin1' }), e.target, e.path);
    }
  });

  await t.test('kernel mount: files match, read-write works, e2fsck clean after', async (tt) => {
    const why = canMount(dir);
    if (why) return tt.skip(why);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-o', 'loop', img, mnt]);
    try {
      compareMounted(mnt, expected);
      writeFileSync(join(mnt, 'data', 'new-file'), 'written after mount\n');
      mkdirSync(join(mnt, 'big', 'newdir'));
      writeFileSync(join(mnt, 'big', 'newdir', 'f'), Buffer.alloc(100_000, 7));
    } finally {
      execFileSync('umount', [mnt]);
    }
    assertClean(img);
    execFileSync('mount', ['-o', 'loop,ro', img, mnt]);
    try {
      assert.equal(readFileSync(join(mnt, 'data', 'new-file'), 'utf8'), 'written after mount\n');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

function compareMounted(mnt: string, expected: Expected[]): void {
  for (const e of expected) {
    const p = Buffer.concat([Buffer.from(mnt), Buffer.from(e.path, 'latin1')]);
    const st = lstatSync(p, { bigint: true });
    assert.equal(Number(st.mode), e.mode, `${e.path} mode`);
    assert.equal(Number(st.uid), e.uid, `${e.path} uid`);
    assert.equal(Number(st.gid), e.gid, `${e.path} gid`);
    assert.equal(Number(st.nlink), e.nlink, `${e.path} nlink`);
    assert.equal(st.mtimeNs, BigInt(e.mtimeSec) * 1_000_000_000n + BigInt(e.mtimeNsec), `${e.path} mtime`);
    if (e.kind === 'file') {
      assert.equal(Number(st.size), e.size, `${e.path} size`);
      if (e.checkRanges) {
        const fd = openSync(p, 'r');
        try {
          for (const r of e.checkRanges) {
            const b = Buffer.alloc(r.data.length);
            readSync(fd, b, 0, b.length, r.offset);
            assert.ok(b.equals(r.data), `${e.path} @${r.offset}`);
          }
        } finally {
          closeSync(fd);
        }
        assert.ok(Number(st.blocks) * 512 < 64 << 20, `${e.path} stays sparse`);
      } else {
        assert.equal(sha(readFileSync(p)), e.sha256, `${e.path} content`);
      }
    }
    if (e.kind === 'symlink') assert.equal(readlinkSync(p, { encoding: 'buffer' }).toString('latin1'), e.target);
    if (e.kind === 'chardev' || e.kind === 'blockdev') {
      const rdev = Number(st.rdev);
      assert.deepEqual([(rdev >>> 8) & 0xfff, (rdev & 0xff) | ((rdev >>> 12) & 0xfff00)], [e.rdevMajor, e.rdevMinor]);
    }
    if (e.kind === 'dir' && e.children !== undefined) {
      const names = readdirSync(p, { encoding: 'buffer' }).map((n) => n.toString('latin1')).sort();
      assert.deepEqual(names, e.children, `${e.path} entries`);
    }
    const xa = getfattr(p);
    assert.deepEqual(xa, [...e.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort(), `${e.path} xattrs`);
  }
}

/** All xattrs of a path (not following symlinks) as sorted [name, hex] pairs, via getfattr. */
function getfattr(p: Buffer): [string, string][] {
  const r = spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', p.toString('latin1')], { encoding: 'latin1' });
  const out: [string, string][] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line);
    if (m) out.push([m[1], m[2]]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

test('too small a size fails with E_NO_SPACE naming needed and available bytes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-ext4-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const root = smallTree(dir, 3 << 20);
  await assert.rejects(writeExt4(validateTree(root), join(dir, 'x.img'), { size: 1 << 20 }), (e: unknown) => {
    assert.ok(isOci2fsError(e, ErrorCode.NO_SPACE), String(e));
    assert.match((e as Error).message, /1048576 bytes/);
    assert.match((e as Error).message, /at least \d+ bytes/);
    return true;
  });
});

test('fill to capacity: the smallest size that fits leaves no free block and is clean', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-ext4-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tree = validateTree(smallTree(dir, 3 << 20));
  const img = join(dir, 'x.img');
  let needed = 0;
  try {
    await writeExt4(tree, img, { size: 4096 * 16, inodes: 64 });
    assert.fail('expected E_NO_SPACE');
  } catch (e) {
    needed = Number(/at least (\d+) bytes/.exec((e as Error).message)?.[1]);
  }
  assert.ok(needed > 3 << 20);
  await assert.rejects(writeExt4(tree, img, { size: needed - 4096, inodes: 64 }), (e: unknown) => isOci2fsError(e, ErrorCode.NO_SPACE));
  const r = await writeExt4(tree, img, { size: needed, inodes: 64 });
  assert.equal(r.bytes, needed);
  assertClean(img);
  assert.match(debugfs(img, 'stats'), /Free blocks:\s+0\n/);
  const out = join(dir, 'blob');
  execFileSync('debugfs', ['-R', `dump /blob ${out}`, img], { stdio: 'ignore' });
  assert.equal(sha(readFileSync(out)), sha(readFileSync(join(dir, 'blob.src'))));
});

/** A tree with one file of `size` pseudo-random bytes (stored in dir/blob.src). */
function smallTree(dir: string, size: number) {
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  const src = join(dir, 'blob.src');
  writeFileSync(src, data);
  const base = { uid: 0, gid: 0, mtimeSec: 1_600_000_000, mtimeNsec: 0, xattrs: new Map<string, Uint8Array>() };
  return {
    ...base,
    kind: 'dir' as const,
    mode: 0o755,
    children: new Map([['blob', { ...base, kind: 'file' as const, mode: 0o644, size, content: { kind: 'file' as const, path: src, offset: 0, length: size } }]]),
  };
}
