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
  util: 1,
  reference: 2,
  image: 2,
  fsverity: 2,
  compress: 2,
  tar: 2,
  auth: 3,
  config: 3,
  registry: 4,
  store: 5,
  source: 6,
  tree: 7,
  finalize: 8,
  dumpfile: 8,
  writers: 9,
  cache: 10,
  convert: 11,
  'index.ts': 12,
  cli: 13,
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
    if (name.endsWith('.test.ts')) continue; // a test beside a root file (index.test.ts) is not a module
    assert.ok(name in LAYERS, `src/${name} has no layer in test/depcheck.test.ts`);
  }
});

test('nothing in src imports the public entry point index.ts (the CLI uses the modules directly)', () => {
  const offenders: string[] = [];
  for (const file of listTs(srcDir)) {
    if (file.endsWith('.test.ts')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
      if (relative(srcDir, resolve(dirname(file), m[1]).replace(/\.js$/, '.ts')) === 'index.ts') offenders.push(relative(srcDir, file));
    }
  }
  assert.deepEqual(offenders, []);
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
