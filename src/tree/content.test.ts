/**
 * readContent keeps descriptors open between files; a path replaced or
 * rewritten in the meantime must be read afresh, never through the stale
 * descriptor (regression guard for the descriptor cache).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readContent, closeContentFiles } from './content.js';
import type { Content } from './types.js';

async function all(c: Content, size: number): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of readContent(c, size)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString();
}

test('readContent sees a file replaced under the same path (no stale cached descriptor)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-content-'));
  try {
    const p = join(dir, 'layer.tar');
    await writeFile(p, 'aaaaBBBBcccc');
    assert.equal(await all({ kind: 'file', path: p, offset: 4, length: 4 }, 4), 'BBBB');
    await writeFile(join(dir, 'new'), 'xxxxYYYYzzzz');
    await rename(join(dir, 'new'), p);
    assert.equal(await all({ kind: 'file', path: p, offset: 4, length: 4 }, 4), 'YYYY');
  } finally {
    closeContentFiles();
    await rm(dir, { recursive: true, force: true });
  }
});

test('readContent expands sparse maps with zeros around the packed data', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-content-'));
  try {
    const p = join(dir, 'packed');
    await writeFile(p, 'ABCD');
    const c: Content = { kind: 'file', path: p, offset: 0, length: 4, sparse: [{ offset: 2, length: 2 }, { offset: 6, length: 2 }] };
    assert.equal(await all(c, 10), '\0\0AB\0\0CD\0\0');
  } finally {
    closeContentFiles();
    await rm(dir, { recursive: true, force: true });
  }
});
