/**
 * A real directory (an installed npm package) → scanDirectory → our writer →
 * kernel mount, compared with the original by `diff -r`; and compared with
 * mksquashfs' image of the same directory: size, and sqfsdiff (contents,
 * owners, permissions, timestamps).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scanDirectory } from '../../tree/scan.js';
import { validateTree } from '../../tree/validate.js';
import { writeSquashfs } from './writer.js';
import { hasTool, withMount } from './test-support.js';

// compiled to dist-*/src/writers/squashfs; the repository root is four levels up
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const source = join(repo, 'node_modules', 'zstd-napi');
let tmp = '';
before(() => { tmp = mkdtempSync(join(tmpdir(), 'oci2fs-sqreal-')); });
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const comp of ['gzip', 'zstd', 'lz4'] as const) {
  test(`real directory (${comp}): kernel mount equals the source (diff -r); size close to mksquashfs`, async (t) => {
    if (!existsSync(source)) { t.skip(`${source} not present`); return; }
    const img = join(tmp, `ours-${comp}.sqfs`);
    const tree = await scanDirectory(source);
    // scanDirectory normalizes the root's mtime; mksquashfs takes the source directory's.
    tree.mtimeSec = Math.floor(statSync(source).mtimeMs / 1000);
    await writeSquashfs(validateTree(tree), img, { compressor: comp });
    if (hasTool('mksquashfs', '-version')) {
      const ref = join(tmp, `ref-${comp}.sqfs`);
      const r = spawnSync('mksquashfs', [source, ref, '-comp', comp, '-noappend', '-no-progress', '-quiet', '-processors', '1']);
      assert.equal(r.status, 0, r.stderr?.toString());
      const ours = statSync(img).size;
      const theirs = statSync(ref).size;
      t.diagnostic(`${comp}: ours ${ours} bytes, mksquashfs ${theirs} bytes`);
      assert.ok(ours <= theirs * 1.15 + 8192, `our image (${ours}) is much larger than mksquashfs' (${theirs})`);
      if (hasTool('sqfsdiff', '--version')) {
        // squashfs-tools-ng parses both images: entries, contents, owners, permissions, timestamps.
        const d = spawnSync('sqfsdiff', ['-a', ref, '-b', img, '-T']);
        assert.equal(d.status, 0, `sqfsdiff reports differences:\n${d.stdout?.toString().slice(0, 2000)}${d.stderr?.toString()}`);
      }
    }
    await withMount(t, img, (mnt) => {
      const d = spawnSync('diff', ['-r', '--no-dereference', source, mnt]);
      assert.equal(d.status, 0, `diff -r found differences:\n${d.stdout?.toString().slice(0, 2000)}`);
    });
  });
}
