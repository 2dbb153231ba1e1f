import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { isOci2fsError } from '../errors.js';
import { validateTree } from '../tree/validate.js';
import type { FileInode } from '../tree/types.js';
import { parseDumpfile, formatDumpfile, escapeField, unescapeField, ESCAPE_EQUAL, ESCAPE_LONE_DASH } from './index.js';

const DATA = '/work/shared/testdata/composefs';
const LENIENT_ONLY = new Set(['longlink.dump', 'no-newline.dump', 'honggfuzz-longlink-unterminated.dump']);
const haveData = existsSync(DATA);
const dumps = haveData ? readdirSync(DATA).filter((f) => f.endsWith('.dump')).sort() : [];

/** Fields of a dump line made comparable: xattrs sorted (we print them in byte order); we print SIZE 0 for directories and devices/fifos/sockets (it is meaningless there). */
function normalize(text: string): string[] {
  return text.split('\n').filter((l) => l !== '').map((l) => {
    const f = l.split(' ');
    const mode = parseInt(f[2].replace('@', ''), 8);
    const type = mode & 0o170000;
    if (type !== 0o100000 && type !== 0o120000) f[1] = '0';
    return [...f.slice(0, 11), ...f.slice(11).sort()].join(' ');
  });
}

test('should-fail dumpfiles are rejected with E_DUMPFILE_INVALID in strict and lenient mode', { skip: !haveData && 'no testdata' }, () => {
  const failing = dumps.filter((f) => f.startsWith('should-fail-'));
  assert.ok(failing.length >= 14, `found ${failing.length} should-fail inputs`);
  for (const f of failing) {
    const text = readFileSync(join(DATA, f));
    for (const strict of [true, false]) {
      assert.throws(() => validateTree(parseDumpfile(text, { strict })), (e: unknown) => {
        assert.ok(isOci2fsError(e, 'E_DUMPFILE_INVALID'), `${f} strict=${strict}: ${String(e)}`);
        assert.match((e as Error).message, /Invalid composefs dumpfile \((line \d+|hardlinks)\): \S/);
        return true;
      }, `${f} strict=${strict} must fail`);
    }
  }
});

test('lenient-only inputs: strict rejects, lenient accepts', { skip: !haveData && 'no testdata' }, () => {
  for (const f of LENIENT_ONLY) {
    const text = readFileSync(join(DATA, f));
    assert.throws(() => parseDumpfile(text), /Invalid composefs dumpfile/, f);
    validateTree(parseDumpfile(text, { strict: false }));
  }
});

test('every accepted reference dump round-trips dumpfile -> tree -> dumpfile', { skip: !haveData && 'no testdata' }, () => {
  let n = 0;
  for (const f of dumps.filter((d) => !d.startsWith('should-fail-'))) {
    const text = readFileSync(join(DATA, f), 'latin1');
    const strict = !LENIENT_ONLY.has(f);
    const tree = validateTree(parseDumpfile(text, { strict }));
    const out = formatDumpfile(tree);
    // Idempotent: our output parses strictly and prints identically.
    assert.equal(formatDumpfile(validateTree(parseDumpfile(out))), out, f);
    if (strict) assert.deepEqual(normalize(out), normalize(text), f);
    n++;
  }
  assert.equal(n, 11, `checked ${n} dumps`);
});

test('parsed fields land in the tree as expected (simple.dump)', { skip: !haveData && 'no testdata' }, () => {
  const root = parseDumpfile(readFileSync(join(DATA, 'simple.dump')));
  const ext = root.children.get('regular-external') as FileInode;
  assert.equal(ext.size, 1234);
  assert.deepEqual(ext.content, { kind: 'external', payload: '5a/' + '5a'.repeat(31), digest: '5a'.repeat(32) });
  assert.equal(ext.fsverityDigest, '5a'.repeat(32));
  const inl = root.children.get('regular-inline') as FileInode;
  assert.equal(Buffer.from((inl.content as { data: Uint8Array }).data).toString(), 'hihi');
  const blk = root.children.get('blkdev');
  assert.ok(blk && blk.kind === 'blockdev' && blk.rdevMajor === 0 && blk.rdevMinor === 123);
  const sl = root.children.get('symlink');
  assert.ok(sl && sl.kind === 'symlink' && sl.target === '/target');
});

test('hardlinks become one shared inode; chains resolve; errors are clear', () => {
  const text = [
    '/ 0 40755 2 0 0 0 0.0 - - -',
    '/a 0 @100644 0 0 0 0 0.0 /b - -',
    '/b 0 @100644 0 0 0 0 0.0 /d/f - -',
    '/d 0 40755 2 0 0 0 0.0 - - -',
    '/d/f 3 100644 3 0 0 0 5.7 - abc - user.x=1',
    '',
  ].join('\n');
  const root = parseDumpfile(text);
  const d = root.children.get('d');
  assert.ok(d && d.kind === 'dir');
  const f = d.children.get('f');
  assert.equal(root.children.get('a'), f);
  assert.equal(root.children.get('b'), f);
  const out = formatDumpfile(validateTree(root));
  assert.equal(out, [
    '/ 0 40755 3 0 0 0 0.0 - - -',
    '/a 3 100644 3 0 0 0 5.7 - abc - user.x=1',
    '/b 3 @100644 3 0 0 0 5.7 /a abc - user.x=1',
    '/d 0 40755 2 0 0 0 0.0 - - -',
    '/d/f 3 @100644 3 0 0 0 5.7 /a abc - user.x=1',
    '',
  ].join('\n'));
  assert.throws(() => parseDumpfile('/ 0 40755 2 0 0 0 0.0 - - -\n/x 0 @100644 1 0 0 0 0.0 /nope - -\n'), /no target at "\/nope"/);
  assert.throws(() => parseDumpfile('/ 0 40755 2 0 0 0 0.0 - - -\n/x/y 0 100644 1 0 0 0 0.0 - - -\n'), /parent directory missing/);
  assert.throws(() => parseDumpfile('/ 0 40755 2 0 0 0 0.0 - - -\n/x 0 100644 1 0 0 0 0.0 - - - \\q=1\n'), /unsupported escape/);
});

test('escaping round-trips every byte and matches the C rules', () => {
  let all = '';
  for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
  for (const flags of [0, ESCAPE_EQUAL, ESCAPE_LONE_DASH]) {
    const esc = escapeField(all, flags);
    assert.ok(!/[ \n\0]/.test(esc));
    assert.deepEqual(unescapeField(esc), { value: all });
  }
  assert.equal(escapeField('a b=c\\', ESCAPE_EQUAL), 'a\\x20b\\x3dc\\\\');
  assert.equal(escapeField('-', ESCAPE_LONE_DASH), '\\x2d');
  assert.equal(escapeField('-', 0), '-');
  assert.equal(escapeField('\t\n\r\x7f\xff'), '\\t\\n\\r\\x7f\\xff');
  assert.deepEqual(unescapeField('\\x4'), { error: 'fewer than two hex characters after \\x escape' });
});
