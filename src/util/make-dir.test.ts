import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirectory } from './make-dir.js';

test('makeDirectory: creates missing parents, accepts an existing directory, refuses a file', async () => {
  const d = await mkdtemp(join(tmpdir(), 'oci2fs-mkdir-'));
  try {
    await makeDirectory(join(d, 'a', 'b', 'c'));
    assert.ok((await stat(join(d, 'a', 'b', 'c'))).isDirectory());
    await makeDirectory(join(d, 'a', 'b'));
    await writeFile(join(d, 'f'), '');
    await assert.rejects(makeDirectory(join(d, 'f')), { code: 'EEXIST' });
    await assert.rejects(makeDirectory(join(d, 'f', 'x')), { code: 'ENOTDIR' });
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('makeDirectory: a directory that cannot be made under /proc fails instead of looping (node 20 mkdir -p loops)', async () => {
  await assert.rejects(makeDirectory('/proc/oci2fs-no-such/x'), { code: 'ENOENT' });
});
