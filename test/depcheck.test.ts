/**
 * The import graph points one way: a module may import only from its own
 * folder or from folders of a lower layer. See docs/architecture.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Layer of each top-level folder (or root file) of src/. Lower may not import higher. */
export const LAYERS: Record<string, number> = {
  'errors.ts': 0,
  'events.ts': 0,
  util: 0,
  reference: 1,
  image: 1,
  fsverity: 1,
  compress: 1,
  tar: 1,
  auth: 2,
  config: 2,
  registry: 3,
  store: 4,
  source: 5,
  tree: 6,
  finalize: 7,
  dumpfile: 7,
  writers: 8,
  cache: 9,
  convert: 10,
  'index.ts': 11,
  cli: 12,
};

const here = dirname(fileURLToPath(import.meta.url));
// compiled to dist/test; the sources are two levels up
const srcDir = resolve(here, '..', '..', 'src');

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listTs(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The top-level unit of a file; compiled `.js` specifiers name `.ts` sources. */
function unitOf(file: string): string {
  return relative(srcDir, file.replace(/\.js$/, '.ts')).split('/')[0];
}

test('every src folder has a layer', () => {
  for (const name of readdirSync(srcDir)) {
    assert.ok(name in LAYERS, `src/${name} has no layer in test/depcheck.test.ts`);
  }
});

test('imports point only to the same folder or lower layers', () => {
  const violations: string[] = [];
  let checked = 0;
  for (const file of listTs(srcDir)) {
    if (file.endsWith('.test.ts')) continue;
    const from = unitOf(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), m[1]);
      const to = unitOf(target);
      checked++;
      if (to === from) continue;
      if (!(to in LAYERS) || LAYERS[to] >= LAYERS[from]) {
        violations.push(`${relative(srcDir, file)} imports ${m[1]} (${from}:${LAYERS[from]} -> ${to}:${LAYERS[to]})`);
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} imports seen: is the scan broken?`);
  assert.deepEqual(violations, []);
});
