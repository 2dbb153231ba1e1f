/**
 * pax record codec edge cases: the self-referential length prefix at digit
 * boundaries, byte-exact values, time parsing/formatting inverse pairs.
 * (GNU tar cross-checks live in quirks.test.ts and encode.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePaxRecord, formatPaxTime, parsePaxRecords, parsePaxTime } from './pax.js';
import { isOci2fsError } from '../errors.js';
import { interpretPax } from './extensions.js';
import { NO_XATTRS } from './entry.js';
import { DEFAULT_TAR_LIMITS } from './constants.js';

const ctx = { label: 'pax-test', offset: 0 };

test('record length prefix counts itself, across digit boundaries', () => {
  // key "k": record = LEN + " k=" + value + "\n"; lengths around 9/10 and 99/100/101 and 999/1000.
  for (let n = 0; n < 1100; n++) {
    const value = Buffer.alloc(n, 0x76);
    const rec = Buffer.from(encodePaxRecord('k', value));
    const space = rec.indexOf(0x20);
    assert.equal(Number(rec.subarray(0, space).toString()), rec.length, `value length ${n}`);
    assert.equal(rec[rec.length - 1], 0x0a);
    const [parsed] = parsePaxRecords(rec, ctx);
    assert.equal(parsed.key, 'k');
    assert.deepEqual(Buffer.from(parsed.value), value);
  }
});

test('values are bytes: newlines, "=", NUL, 0xff survive a round trip; order and repeats kept', () => {
  const v1 = Buffer.from([0x0a, 0x3d, 0x00, 0xff, 0x0a]);
  const data = Buffer.concat([
    encodePaxRecord('SCHILY.xattr.user.\xe9', v1),
    encodePaxRecord('GNU.sparse.offset', Buffer.from('0')),
    encodePaxRecord('GNU.sparse.offset', Buffer.from('9')),
    Buffer.alloc(20), // NUL padding after the last record is tolerated
  ]);
  const recs = parsePaxRecords(data, ctx);
  assert.deepEqual(recs.map((r) => r.key), ['SCHILY.xattr.user.\xe9', 'GNU.sparse.offset', 'GNU.sparse.offset']);
  assert.deepEqual(Buffer.from(recs[0].value), v1);
  assert.deepEqual(recs.map((r) => Buffer.from(r.value).toString('latin1')).slice(1), ['0', '9']);
  // A literal record written by hand: "14 path=a\nb=c\n" (14 bytes, value has a newline).
  const [hand] = parsePaxRecords(Buffer.from('14 path=a\nb=c\n'), ctx);
  assert.equal(Buffer.from(hand.value).toString(), 'a\nb=c');
});

test('malformed records are rejected with the label', () => {
  for (const bad of ['11 path=a\n', '8 path=a\n', '5 k=v\n', '6 k=v\nx', ' 6 k=v\n', '7 =va\n\n', '6 kv\n', '99999999999999999999 k=v\n']) {
    assert.throws(() => parsePaxRecords(Buffer.from(bad), ctx), (e) => isOci2fsError(e, 'E_TAR_INVALID') && /pax-test/.test(e.message), JSON.stringify(bad));
  }
  assert.throws(() => parsePaxRecords(Buffer.concat([Buffer.from('6 k=v\n'), Buffer.from([0, 0x41])]), ctx), /garbage after NUL/);
});

test('pax times parse exactly and format back to the same value', () => {
  const t = (s: string): [number, number] => {
    const r = parsePaxTime(Buffer.from(s), 'mtime', ctx);
    return [r.sec, r.nsec];
  };
  assert.deepEqual(t('0'), [0, 0]);
  assert.deepEqual(t('-0.0'), [0, 0]);
  assert.ok(!Object.is(t('-0')[0], -0), 'no negative zero');
  assert.deepEqual(t('-0.5'), [-1, 500_000_000]);
  assert.deepEqual(t('-0.9999999991'), [-1, 0]);
  assert.deepEqual(t('1234567890123456.5'), [1234567890123456, 500_000_000]); // BigInt path
  assert.throws(() => t('99999999999999999999'), /out of range/);
  for (const bad of ['', '.5', '1.2.3', '+1', '1e3', ' 1', '0x10']) {
    assert.throws(() => t(bad), (e) => isOci2fsError(e, 'E_TAR_INVALID'), JSON.stringify(bad));
  }
  for (const [sec, nsec] of [[0, 0], [1, 1], [-1, 999_999_999], [-2, 500_000_000], [1_700_000_000, 120_000_000], [-100, 0]]) {
    const s = formatPaxTime(sec, nsec);
    assert.doesNotMatch(s, /\.\d*0$/, 'no trailing zeros');
    assert.deepEqual(t(s), [sec, nsec], s);
  }
  assert.equal(formatPaxTime(-2, 500_000_000), '-1.5');
  assert.equal(formatPaxTime(-1, 999_999_999), '-0.000000001');
});

test('entries without xattrs share NO_XATTRS, which refuses changes; entries with xattrs get maps of their own', () => {
  const none = interpretPax(new Map(), [], ctx, DEFAULT_TAR_LIMITS);
  const pathOnly = interpretPax(new Map(), parsePaxRecords(encodePaxRecord('path', Buffer.from('a/b')), ctx), ctx, DEFAULT_TAR_LIMITS);
  assert.equal(none.xattrs, NO_XATTRS);
  assert.equal(pathOnly.xattrs, NO_XATTRS, 'pax records but no xattrs');
  const withX = interpretPax(new Map(), parsePaxRecords(encodePaxRecord('SCHILY.xattr.user.a', Buffer.from([1])), ctx), ctx, DEFAULT_TAR_LIMITS);
  assert.notEqual(withX.xattrs, NO_XATTRS);
  assert.deepEqual([...withX.xattrs], [['user.a', new Uint8Array([1])]]);
  assert.throws(() => NO_XATTRS.set('user.x', new Uint8Array(0)), TypeError);
  assert.throws(() => NO_XATTRS.delete('user.x'), TypeError);
  assert.throws(() => NO_XATTRS.clear(), TypeError);
  assert.equal(NO_XATTRS.size, 0);
});
