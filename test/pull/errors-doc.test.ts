/** docs/errors.md documents every error code with the exit status the CLI really uses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_STATUS, ErrorCode } from '../../src/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
// compiled to <dist>/test/pull; the docs are three levels up
const doc = readFileSync(resolve(here, '..', '..', '..', 'docs', 'errors.md'), 'utf8');

test('every code in src/errors.ts has a row in docs/errors.md with its exit status', () => {
  const rows = new Map<string, number>();
  for (const m of doc.matchAll(/^\| `(E_[A-Z_]+)` \| (\d+) \|/gm)) rows.set(m[1], Number(m[2]));
  const codes = Object.values(ErrorCode).sort();
  assert.deepEqual([...rows.keys()].sort(), codes);
  for (const c of codes) assert.equal(rows.get(c), EXIT_STATUS[c], `exit status of ${c}`);
});
