/**
 * The same content through two sources gives the same bytes: an image's
 * layers, and a directory holding that image's root filesystem (written by
 * our dir output as root, then scanned through `dir:PATH`). Checked for the
 * dumpfile (the tree, line by line), EROFS, composefs and squashfs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../harness/image-builder.js';
import { runCli } from './cli.js';

let work: string;
let layout: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'oci2fs-dirsrc-'));
  layout = join(work, 'layout');
  await buildImage(
    {
      layers: [
        {
          files: {
            usr: { type: 'dir' },
            'usr/bin': { type: 'dir' },
            'usr/bin/tool': { type: 'file', content: Buffer.alloc(70_000, 7), mode: 0o4755 },
            'usr/bin/alias': { type: 'hardlink', target: 'usr/bin/tool' },
            bin: { type: 'symlink', target: 'usr/bin' },
            etc: { type: 'dir' },
            'etc/conf': 'a=1\n',
          },
        },
        { compression: 'zstd', files: { 'etc/.wh.conf': '', 'etc/new': 'b=2\n', 'usr/share': { type: 'dir' } } },
      ],
    },
    layout,
  );
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('dir: source scanned from our dir output equals the layers, for dumpfile, EROFS, composefs and squashfs', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('the dir output keeps owners exactly only as root');
    return;
  }
  const store = join(work, 'store');
  const base = ['--store', store, '--no-provenance', '--no-cache'];
  const rootfs = join(work, 'rootfs') + '/';
  let r = await runCli(['import', ...base, `oci:${layout}`, '-o', rootfs]);
  assert.equal(r.code, 0, r.stderr);
  for (const ext of ['dump', 'erofs', 'cfs', 'sqsh']) {
    const fromLayers = join(work, `layers.${ext}`);
    const fromDir = join(work, `dir.${ext}`);
    const objects = ['--objects', join(work, 'objects')];
    r = await runCli(['import', ...base, ...(ext === 'cfs' ? objects : []), `oci:${layout}`, '-o', fromLayers]);
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['import', ...base, ...(ext === 'cfs' ? objects : []), `dir:${rootfs}`, '-o', fromDir]);
    assert.equal(r.code, 0, r.stderr);
    if (ext === 'dump') {
      const dump = (await readFile(fromLayers)).toString();
      // the first name in byte order holds the inode; the other is a composefs '@' hardlink line
      assert.match(dump, /^\/usr\/bin\/alias 70000 104755 2 0 0 0 \S+ [0-9a-f]{2}\/[0-9a-f]{62} - [0-9a-f]{64}$/m);
      assert.match(dump, /^\/usr\/bin\/tool 70000 @104755 2 .* \/usr\/bin\/alias /m);
      assert.doesNotMatch(dump, /^\/etc\/conf /m);
      assert.equal((await readFile(fromDir)).toString(), dump);
    }
    else assert.ok((await readFile(fromDir)).equals(await readFile(fromLayers)), `${ext} images differ`);
  }
});
