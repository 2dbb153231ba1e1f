import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { mkdtemp, rm, readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDumpfile } from '../../dumpfile/index.js';
import { validateTree } from '../../tree/validate.js';
import type { DirInode, FileInode, Inode } from '../../tree/types.js';
import { writeComposefs } from './composefs.js';

const DATA = '/work/shared/testdata/composefs';
const LENIENT = new Set(['longlink.dump', 'no-newline.dump', 'honggfuzz-longlink-unterminated.dump']);
const have = existsSync(DATA);

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-cfs-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function load(f: string) {
  return validateTree(parseDumpfile(readFileSync(join(DATA, f)), { strict: !LENIENT.has(f) }));
}

test('every reference dump produces the image sha256 C mkcomposefs produced', { skip: !have && 'no testdata' }, async () => {
  const cases = readdirSync(DATA).filter((f) => f.endsWith('.dump') && existsSync(join(DATA, `${f}.sha256`)));
  assert.ok(cases.length >= 9);
  await withTmp(async (dir) => {
    for (const f of cases) {
      const vf = join(DATA, `${f}.version`);
      const version = existsSync(vf) ? (Number(readFileSync(vf, 'utf8').trim()) as 0 | 1) : 'auto';
      const out = join(dir, `${f}.img`);
      const r = await writeComposefs(load(f), out, { version });
      const img = await readFile(out);
      const expected = readFileSync(join(DATA, `${f}.sha256`), 'utf8').trim().split(/\s+/)[0];
      assert.equal(createHash('sha256').update(img).digest('hex'), expected, f);
      // Our own fs-verity digest of the image equals the independent tool's.
      const tool = execFileSync('fsverity', ['digest', '--hash-alg=sha256', '--block-size=4096', out], { encoding: 'utf8' });
      assert.equal(tool.split(' ')[0], `sha256:${r.fsverityDigest}`, f);
    }
  });
});

test('image fs-verity digests equal composefs-rs pinned values (README)', { skip: !have && 'no testdata' }, async () => {
  const pinned: [string, 'auto' | 1, string][] = [
    ['empty.dump', 'auto', '8f589e8f57ecb88823736b0d857ddca1e1068a23e264fad164b28f7038eb3682'],
    ['empty.dump', 1, '14a26c957c84f6eb774b91205476adc13196c7c33b9dd97d08d43725ecb90b63'],
    ['simple.dump', 'auto', '9f3f5620ee0c54708516467d0d58741e7963047c7106b245d94c298259d0fa01'],
    ['simple.dump', 1, 'ad6db6427568a1e4fdc772cbab7b6063f5eb4b33cb62982a740ba9213e5962b5'],
  ];
  await withTmp(async (dir) => {
    for (const [f, version, digest] of pinned) {
      const r = await writeComposefs(load(f), join(dir, 'x.img'), { version });
      assert.equal(r.fsverityDigest, digest, `${f} ${version}`);
    }
  });
});

test('fsck.erofs accepts composefs images; dump.erofs sees the overlay xattrs', { skip: !have && 'no testdata' }, async () => {
  await withTmp(async (dir) => {
    for (const f of ['special.dump', 'simple.dump', 'longlink.dump']) {
      const out = join(dir, `${f}.img`);
      await writeComposefs(load(f), out, { version: 1 });
      execFileSync('fsck.erofs', [out], { stdio: 'pipe' });
    }
    const info = execFileSync('dump.erofs', ['--path=/regular-external', join(dir, 'simple.dump.img')], { encoding: 'utf8' });
    assert.match(info, /Size:\s*1234/);
  });
});

function file(data: string | null, size?: number): FileInode {
  const content = data === null ? { kind: 'external' as const, payload: '' } : { kind: 'inline' as const, data: Buffer.from(data) };
  return { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map(), size: size ?? (data ?? '').length, content };
}

test('objectsDir: contents stored once by fs-verity digest, redirects point to them, reruns add nothing', async () => {
  await withTmp(async (dir) => {
    const src = join(dir, 'src.bin');
    const big = Buffer.alloc(100_000, 7);
    await writeFile(src, big);
    const onDisk: FileInode = { ...file(null), size: big.length, content: { kind: 'file', path: src, offset: 0, length: big.length } };
    const small: FileInode = { ...file(null), size: 5, content: { kind: 'file', path: src, offset: 0, length: 5 } };
    const children = new Map<string, Inode>([['a', onDisk], ['b', onDisk], ['c', { ...onDisk }], ['s', small]]);
    const root: DirInode = { kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, xattrs: new Map(), children };
    const objects = join(dir, 'objects');
    const r1 = await writeComposefs(validateTree(root), join(dir, 'a.img'), { objectsDir: objects });
    assert.equal(r1.newObjects, 1);
    assert.equal(r1.objects, 1);
    const digest = execFileSync('fsverity', ['digest', '--compact', src], { encoding: 'utf8' }).trim();
    const obj = join(objects, digest.slice(0, 2), digest.slice(2));
    assert.deepEqual(await readFile(obj), big);
    assert.deepEqual((await readdir(objects)).filter((n) => !n.startsWith('.')), [digest.slice(0, 2)]);
    assert.equal((await stat(obj)).mode & 0o777, 0o644);
    const r2 = await writeComposefs(validateTree(root), join(dir, 'b.img'), { objectsDir: objects });
    assert.equal(r2.newObjects, 0);
    assert.equal(r2.fsverityDigest, r1.fsverityDigest);
    // The redirect value and the metacopy digest are in the image (the kernel mount test reads them back as xattrs).
    const img = await readFile(join(dir, 'a.img'));
    assert.ok(img.includes(Buffer.from(`/${digest.slice(0, 2)}/${digest.slice(2)}`)));
    assert.ok(img.includes(Buffer.concat([Buffer.from([0, 36, 0, 1]), Buffer.from(digest, 'hex')])));
  });
});

test('composefs kernel mount: EROFS loop mount + overlayfs with the objects as data-only layer shows the tree', async (t) => {
  const { makeTestTree } = await import('./testtree.js');
  const { compareWithHost } = await import('./compare.js');
  const { spawnSync } = await import('node:child_process');
  const { mkdir } = await import('node:fs/promises');
  await withTmp(async (dir) => {
    const src = join(dir, 'src');
    await mkdir(src);
    const tree = validateTree(await makeTestTree(src));
    const objects = join(dir, 'objects');
    const img = join(dir, 'cfs.img');
    const r = await writeComposefs(tree, img, { objectsDir: objects });
    assert.ok(r.newObjects > 5);
    const emnt = join(dir, 'erofs');
    const omnt = join(dir, 'ovl');
    await mkdir(emnt);
    await mkdir(omnt);
    const m = spawnSync('mount', ['-t', 'erofs', '-o', 'loop,ro', img, emnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      t.skip(`cannot loop-mount EROFS here: ${m.stderr.trim() || m.error?.message}`);
      return;
    }
    try {
      // Data-only lower layers ("::") need Linux >= 6.5; fall back to a normal second lower layer.
      const variants = [
        `ro,metacopy=on,redirect_dir=follow,lowerdir=${emnt}::${objects}`,
        `ro,metacopy=on,redirect_dir=on,lowerdir=${emnt}:${objects}`,
      ];
      const errors: string[] = [];
      let mounted = false;
      for (const o of variants) {
        const res = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', o, omnt], { encoding: 'utf8' });
        if (res.status === 0) {
          mounted = true;
          break;
        }
        errors.push(`${o}: ${res.stderr.trim()}`);
      }
      if (!mounted) {
        t.skip(`kernel refused the composefs overlay mount: ${errors.join('; ')}`);
        return;
      }
      try {
        const diffs = await compareWithHost(tree.root, omnt, {
          composefsWhiteouts: true, xattrs: true, nsec: true,
          ignoreXattr: (k) => k.startsWith('trusted.overlay.') || k.startsWith('user.overlay.'),
        });
        assert.deepEqual(diffs, []);
      } finally {
        spawnSync('umount', [omnt]);
      }
    } finally {
      spawnSync('umount', [emnt]);
    }
  });
});

test("version 'auto' is 0 without whiteouts and raises to 1 with one; 0 keeps 0", { skip: !have && 'no testdata' }, async () => {
  await withTmp(async (dir) => {
    const bytesOf = async (f: string, version: 0 | 1 | 'auto'): Promise<Buffer> => {
      const out = join(dir, 'v.img');
      await writeComposefs(load(f), out, { version });
      return readFile(out);
    };
    // special.dump has a whiteout (char device 0:0).
    const auto = await bytesOf('special.dump', 'auto');
    assert.deepEqual(auto, await bytesOf('special.dump', 1));
    assert.notDeepEqual(auto, await bytesOf('special.dump', 0));
    assert.equal(auto.readUInt32LE(12), 1);
    // simple.dump has none: auto = 0, and the header says so.
    const simple = await bytesOf('simple.dump', 'auto');
    assert.deepEqual(simple, await bytesOf('simple.dump', 0));
    assert.equal(simple.readUInt32LE(0), 0xd078629a);
    assert.equal(simple.readUInt32LE(12), 0);
  });
});

test('xxh32 matches the reference vectors', async () => {
  const { xxh32 } = await import('./xxhash32.js');
  assert.equal(xxh32(Buffer.alloc(0), 0), 0x02cc5d05);
  assert.equal(xxh32(Buffer.from('abc'), 0), 0x32d153ff);
  assert.equal(xxh32(Buffer.from('Nobody inspects the spammish repetition'), 0), 0xe2293b2f);
});

test('tree -> image equals tree -> dumpfile -> tree -> image (the two paths describe the same composefs)', async () => {
  const { makeTestTree } = await import('./testtree.js');
  const { formatDumpfile } = await import('../../dumpfile/index.js');
  const { fsverityDigestStream } = await import('../../fsverity/index.js');
  const { readFile: readTreeFile } = await import('../../tree/content.js');
  const { walk } = await import('../../tree/types.js');
  const { mkdir } = await import('node:fs/promises');
  await withTmp(async (dir) => {
    const src = join(dir, 'src');
    await mkdir(src);
    const tree = validateTree(await makeTestTree(src));
    const digests = new Map<FileInode, string>();
    const files: FileInode[] = [];
    walk(tree.root, (_p, i) => {
      if (i.kind === 'file' && i.size > 0 && !files.includes(i)) files.push(i);
    });
    for (const f of files) digests.set(f, await fsverityDigestStream(readTreeFile(f)));
    assert.throws(() => formatDumpfile(tree), /No fs-verity digest/);
    const dump = formatDumpfile(tree, { digests });
    const a = join(dir, 'a.img');
    const b = join(dir, 'b.img');
    const ra = await writeComposefs(tree, a, { digests });
    const rb = await writeComposefs(validateTree(parseDumpfile(dump)), b);
    assert.equal(ra.fsverityDigest, rb.fsverityDigest);
    assert.deepEqual(await readFile(a), await readFile(b));
    assert.ok(ra.objects > 5);
  });
});
