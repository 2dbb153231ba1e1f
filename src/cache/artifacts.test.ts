import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactCache } from './artifacts.js';

const KEY = 'a'.repeat(64);
const META = { key: KEY, format: 'squashfs', file: 'image', canonical: 'docker://x/y:1', manifestDigest: 'sha256:m', configDigest: 'sha256:c', platform: 'linux/amd64' };

test('an image changed in place through a hardlinked output (same size) is no longer a hit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-artifacts-'));
  try {
    const cache = new ArtifactCache(dir);
    const a = await cache.commit(META, async (p) => writeFileSync(p, 'image bytes v1'), new Date(0));
    assert.equal(statSync(a.path).mode & 0o777, 0o444, 'cached images are read-only');
    const out = join(dir, 'out.sqsh');
    await cache.deliver(a, out, 'hardlink');
    assert.equal(statSync(out).ino, statSync(a.path).ino, 'delivered as a hardlink');
    assert.ok(await cache.lookup(KEY), 'intact: a hit');
    // Someone makes the output writable and rewrites it in place, same length.
    chmodSync(out, 0o644);
    await new Promise((r) => setTimeout(r, 20)); // a distinct mtime even on coarse clocks
    writeFileSync(out, 'image bytes v2');
    assert.equal(readFileSync(a.path, 'utf8'), 'image bytes v2', 'the cache file changed with it');
    assert.equal(await cache.lookup(KEY), undefined, 'changed: a miss, so it is rebuilt');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a copied output is independent of the cache; gc removes unused artifacts, outputs stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-artifacts-'));
  try {
    const cache = new ArtifactCache(dir);
    const a = await cache.commit(META, async (p) => writeFileSync(p, 'bytes'), new Date(0));
    const out = join(dir, 'copy.sqsh');
    await cache.deliver(a, out, 'reflink-or-copy');
    assert.notEqual(statSync(out).ino, statSync(a.path).ino);
    assert.equal(statSync(out).mode & 0o777, 0o644);
    writeFileSync(out, 'other');
    assert.ok(await cache.lookup(KEY), 'the cache is untouched');
    const r = await cache.gc({ olderThan: new Date(1000) });
    assert.deepEqual(r.removed, [KEY]);
    assert.equal(await cache.lookup(KEY), undefined);
    assert.equal(readFileSync(out, 'utf8'), 'other');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
