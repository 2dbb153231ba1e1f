import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bootIdentity, markerPath, usableDiff } from './unsynced.js';
import { diffPath, spillLayers } from './layers.js';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const ME = 'node-a\nboot-1\n';

function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-unsynced-'));
  const data = Buffer.from('layer bytes '.repeat(1000));
  const diff = join(dir, 'diff');
  writeFileSync(diff, data);
  return { dir, data, diff, id: sha(data) };
}

test('usableDiff: no marker, or this boot, or another host: trusted as is', async () => {
  const f = fixture();
  try {
    assert.equal(await usableDiff(f.diff, f.id, ME), true, 'no marker');
    writeFileSync(markerPath(f.diff), ME);
    writeFileSync(f.diff, 'torn'); // not even checked: this boot's page cache is what we wrote
    assert.equal(await usableDiff(f.diff, f.id, ME), true, 'same host, same boot');
    writeFileSync(markerPath(f.diff), 'node-b\nboot-9\n');
    assert.equal(await usableDiff(f.diff, f.id, ME), true, 'written and closed on another host');
    assert.ok(existsSync(markerPath(f.diff)));
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('usableDiff: this host, an earlier boot: re-hashed; good → marker dropped, torn → diff, marker and entry index deleted', async () => {
  const f = fixture();
  try {
    writeFileSync(markerPath(f.diff), 'node-a\nboot-0\n');
    assert.equal(await usableDiff(f.diff, f.id, ME), true);
    assert.equal(existsSync(markerPath(f.diff)), false, 'verified and fsynced: marker removed');
    writeFileSync(markerPath(f.diff), 'node-a\nboot-0\n');
    writeFileSync(f.diff, Buffer.alloc(f.data.length)); // what a crash before writeback leaves
    writeFileSync(`${f.diff}.entries`, 'an index made from it');
    assert.equal(await usableDiff(f.diff, f.id, ME), false);
    assert.equal(existsSync(f.diff), false);
    assert.equal(existsSync(markerPath(f.diff)), false);
    assert.equal(existsSync(`${f.diff}.entries`), false);
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test('spillLayers after a crash (marker from an earlier boot, zeroed diff) spills the layer again', { skip: !bootIdentity() && 'no boot id on this system (diffs are fsynced instead)' }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'oci2fs-unsynced-spill-'));
  try {
    const data = Buffer.from('tar-ish bytes\n'.repeat(5000));
    const gz = gzipSync(data);
    writeFileSync(join(root, 'blob'), gz);
    const layer = { blobPath: join(root, 'blob'), digest: sha(gz), diffId: sha(data) };
    const [path] = await spillLayers(root, [layer]);
    assert.equal(path, diffPath(root, layer.diffId));
    assert.equal(readFileSync(markerPath(path), 'utf8'), bootIdentity(), 'unsynced spill carries this boot');
    const [host] = bootIdentity()!.split('\n');
    writeFileSync(markerPath(path), `${host}\nan-earlier-boot\n`);
    writeFileSync(path, Buffer.alloc(data.length));
    await spillLayers(root, [layer]);
    assert.ok(readFileSync(path).equals(data), 'spilled again, not trusted');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
