import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntryIndex, encodeEntryIndex, EntryIndexBuilder } from './entry-index.js';
import type { TarEntry } from './entry.js';

const TAR = { sha256: 'ab'.repeat(32), size: 123_456_789 };

function entry(over: Partial<TarEntry>): TarEntry {
  return {
    path: 'x', type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeSec: 0, mtimeNsec: 0, size: 0, linkname: '',
    devMajor: 0, devMinor: 0, xattrs: new Map(), dataOffset: 512, dataLength: 0, ...over,
  };
}

/** Every field and kind of value the reader produces. */
const ENTRIES: TarEntry[] = [
  entry({ path: './', type: 'dir', mode: 0o755 }),
  entry({ path: 'usr/bin/su', mode: 0o4755, uid: 2 ** 40, gid: 4_294_967_296, size: 2 ** 33 + 7, dataOffset: 2 ** 34, dataLength: 2 ** 33 + 7, mtimeSec: 1_700_000_000, mtimeNsec: 999_999_999, xattrs: new Map([['security.capability', new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0])], ['user.empty', new Uint8Array(0)]]) }),
  entry({ path: 'caf\xe9/\xff\x01name', mtimeSec: -86_400, mtimeNsec: 1 }),
  entry({ path: 'link', type: 'hardlink', linkname: 'usr/bin/su' }),
  entry({ path: 'sym', type: 'symlink', linkname: '/abs/\xe9' }),
  entry({ path: 'dev/null', type: 'chardev', mode: 0o666, devMajor: 1, devMinor: 3 }),
  entry({ path: 'dev/sda', type: 'blockdev', devMajor: 8, devMinor: 0 }),
  entry({ path: 'run/fifo', type: 'fifo' }),
  entry({ path: 'sparse', size: 5 << 20, dataLength: 15_000, sparse: [{ offset: 0, length: 5000 }, { offset: 3 << 20, length: 10_000 }] }),
  entry({ path: 'sparse-empty', size: 1 << 20, sparse: [] }),
];

test('entry index: every field survives encode → decode (byte-string names, binary xattrs, sparse maps, large and negative numbers)', () => {
  const back = decodeEntryIndex(encodeEntryIndex(ENTRIES, TAR), TAR);
  assert.deepEqual(back, ENTRIES);
  assert.equal(back?.[8].sparse?.length, 2);
  assert.equal(back?.[0].sparse, undefined, 'no sparse map stays no sparse map');
  assert.deepEqual(back?.[9].sparse, [], 'an empty sparse map stays empty');
});

test('entry index: not used for another tar, another size, or when damaged, truncated or extended', () => {
  const b = encodeEntryIndex(ENTRIES, TAR);
  assert.equal(decodeEntryIndex(b, { ...TAR, sha256: 'cd'.repeat(32) }), undefined, 'other tar');
  assert.equal(decodeEntryIndex(b, { ...TAR, size: TAR.size + 1 }), undefined, 'other size');
  for (const at of [0, 9, 60, 100, b.length - 40, b.length - 1]) {
    const bad = Buffer.from(b);
    bad[at] ^= 0x01;
    assert.equal(decodeEntryIndex(bad, TAR), undefined, `byte ${at} flipped`);
  }
  assert.equal(decodeEntryIndex(b.subarray(0, b.length - 1), TAR), undefined, 'truncated');
  assert.equal(decodeEntryIndex(Buffer.concat([b, Buffer.alloc(1)]), TAR), undefined, 'extended');
  assert.equal(decodeEntryIndex(Buffer.alloc(0), TAR), undefined, 'empty');
  assert.deepEqual(decodeEntryIndex(encodeEntryIndex([], TAR), TAR), [], 'an empty tar has an empty index');
});

test('entry index: thousands of entries (the builder\'s columns grow several times) round-trip in order', () => {
  const many = Array.from({ length: 5000 }, (_, i) =>
    entry({ path: `d/${i}`, size: i, dataOffset: 512 * (2 * i + 1), dataLength: i, mtimeSec: i - 2500, ...(i % 997 === 0 ? { xattrs: new Map([['user.i', new Uint8Array([i & 0xff])]]) } : {}) }),
  );
  assert.deepEqual(decodeEntryIndex(encodeEntryIndex(many, TAR), TAR), many);
});

test('entry index: a builder sized for fewer entries than come, for none, or for many more gives the same bytes', () => {
  const many = Array.from({ length: 3000 }, (_, i) => entry({ path: `p/${i}`, size: i, dataOffset: 512 * (2 * i + 1), dataLength: i }));
  const want = encodeEntryIndex(many, TAR);
  for (const expected of [0, 1, 17, 2999, 3000, 100_000]) {
    const b = new EntryIndexBuilder(expected);
    for (const e of many) b.add(e);
    assert.ok(b.finish(TAR).equals(want), `sized for ${expected}`);
  }
});
