/**
 * The quirk corpus: small layer stacks that exercise every odd corner of
 * layer flattening and of the output formats, each with its golden tree
 * (describe.ts format) or the error it must raise. Reused by every writer's
 * tests through `buildQuirkTrees` (see docs/tree.md).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { flattenLayers } from '../../src/tree/flatten.js';
import type { LayerInput } from '../../src/tree/flatten.js';
import { validateTree } from '../../src/tree/validate.js';
import type { ValidatedTree } from '../../src/tree/types.js';
import { buildLayerTar, iterate } from './tarbuild.js';
import type { EntrySpec } from './tarbuild.js';

export interface QuirkCase {
  name: string;
  /** Lowest layer first. */
  layers: EntrySpec[][];
  /** Golden tree (describe.ts format) when flattening succeeds. */
  expect?: string;
  /** Error code flattening must raise (strict mode). */
  error?: string;
  /** Golden tree in lenient mode, with the warning codes expected. */
  lenient?: { expect: string; warnings: string[] };
}

/** Default mtime of test entries and its describe form. */
const T = '1600000000.000000000';
const ROOT = '/ dir 0755 0:0 0.000000000';
const IMPL = '0755 0:0 0.000000000';
const g = (...lines: string[]): string => lines.join('\n') + '\n';
const f = (path: string, data: string, extra: Partial<EntrySpec> = {}): EntrySpec => ({ path, type: 'file', data, ...extra });
const d = (path: string, extra: Partial<EntrySpec> = {}): EntrySpec => ({ path, type: 'dir', ...extra });
const l = (path: string, linkname: string, extra: Partial<EntrySpec> = {}): EntrySpec => ({ path, type: 'symlink', linkname, mode: 0o777, ...extra });
const h = (path: string, linkname: string): EntrySpec => ({ path, type: 'hardlink', linkname });

const NAME150 = 'n'.repeat(150);
const NAME255 = 'x'.repeat(255);
const TARGET300 = '/' + 't'.repeat(299);
const DEEP = Array.from({ length: 30 }, (_, i) => `level${String(i).padStart(2, '0')}-${'d'.repeat(23)}`);
const CAP = '\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'; // VFS_CAP_REVISION_2, CAP_NET_BIND_SERVICE

export const QUIRK_CASES: QuirkCase[] = [
  {
    name: 'whiteout-basic',
    layers: [[d('a/'), f('a/x', '1'), f('a/y', '2')], [f('a/.wh.x', '')]],
    expect: g(ROOT, `/a dir 0755 0:0 ${T}`, `/a/y file 0644 0:0 ${T} size=1 data=2`),
  },
  {
    name: 'whiteout-after-add-same-layer',
    layers: [[f('f', 'old')], [f('f', 'new'), f('.wh.f', '')]],
    expect: g(ROOT, `/f file 0644 0:0 ${T} size=3 data=new`),
  },
  {
    name: 'whiteout-before-add-same-layer',
    layers: [[f('f', 'old')], [f('.wh.f', ''), f('f', 'new')]],
    expect: g(ROOT, `/f file 0644 0:0 ${T} size=3 data=new`),
  },
  {
    name: 'whiteout-dir-subtree-and-missing',
    layers: [[d('w/'), d('w/a/'), f('w/a/b', 'b')], [f('.wh.w', ''), f('.wh.ghost', ''), f('nothere/.wh.x', '')]],
    expect: g(ROOT),
  },
  {
    name: 'opaque-any-order',
    layers: [
      [d('d/'), f('d/a', 'a'), d('d/sub/'), f('d/sub/b', 'b'), d('e/'), f('e/old', 'o')],
      [f('d/x', 'x'), f('d/.wh..wh..opq', ''), d('d/', { mode: 0o700 }), d('e/'), f('e/.wh..wh..opq', ''), f('e/sub/new', 'n'), f('gone/.wh..wh..opq', '')],
    ],
    expect: g(ROOT, `/d dir 0700 0:0 ${T}`, `/d/x file 0644 0:0 ${T} size=1 data=x`, `/e dir 0755 0:0 ${T}`, `/e/sub dir ${IMPL}`, `/e/sub/new file 0644 0:0 ${T} size=1 data=n`),
  },
  {
    name: 'type-replacements',
    layers: [
      [f('p', 'file'), d('q/'), f('q/c', 'c'), d('r/'), f('r/c', 'c'), l('s', 'x'), d('t/'), f('t/u', 'u')],
      [d('p/'), f('p/c', 'c'), f('q', 'now a file'), l('r', '/etc'), d('s/'), f('t', 'file'), f('t/.wh.u', '')],
    ],
    expect: g(
      ROOT,
      `/p dir 0755 0:0 ${T}`,
      `/p/c file 0644 0:0 ${T} size=1 data=c`,
      `/q file 0644 0:0 ${T} size=10 data=now a file`,
      `/r symlink 0777 0:0 ${T} -> /etc`,
      `/s dir 0755 0:0 ${T}`,
      `/t file 0644 0:0 ${T} size=4 data=file`,
    ),
  },
  {
    name: 'dir-over-dir-metadata-and-implicit-parents',
    layers: [
      [d('m/'), f('m/k', 'k'), f('deep/er/file', 'z')],
      [d('m/', { mode: 0o1777, uid: 5, gid: 6, mtimeSec: 1_700_000_000, xattrs: { 'user.k': 'v' } }), f('dup', 'a'), f('dup', 'b')],
    ],
    expect: g(
      ROOT,
      `/deep dir ${IMPL}`,
      `/deep/er dir ${IMPL}`,
      `/deep/er/file file 0644 0:0 ${T} size=1 data=z`,
      '/dup file 0644 0:0 1600000000.000000000 size=1 data=b',
      '/m dir 1777 5:6 1700000000.000000000 xattr user.k=76',
      `/m/k file 0644 0:0 ${T} size=1 data=k`,
    ),
  },
  {
    name: 'hardlinks-across-layers',
    layers: [
      [f('orig', 'data'), f('h', 'old'), l('sym', 'orig')],
      [h('link', 'orig'), h('a', 'h'), f('h', 'new'), h('./dir/ln', '/orig'), h('symhl', 'sym')],
    ],
    expect: g(
      ROOT,
      `/a file 0644 0:0 ${T} size=3 data=old`,
      `/dir dir ${IMPL}`,
      `/dir/ln file 0644 0:0 ${T} size=4 data=data`,
      `/h file 0644 0:0 ${T} size=3 data=new`,
      '/link link=/dir/ln',
      '/orig link=/dir/ln',
      `/sym symlink 0777 0:0 ${T} -> orig`,
      '/symhl link=/sym',
    ),
  },
  {
    // A hardlink to its own path is a no-op here (containerd and umoci fail on it: they remove the path first).
    name: 'hardlink-to-itself',
    layers: [[f('self', 's')], [h('self', 'self'), h('./self', '/self')]],
    expect: g(ROOT, `/self file 0644 0:0 ${T} size=1 data=s`),
  },
  {
    name: 'hardlink-into-whiteout',
    layers: [[f('orig', 'data')], [f('.wh.orig', ''), h('hl', 'orig'), f('keep', 'k')]],
    error: 'E_TAR_INVALID',
    lenient: { expect: g(ROOT, `/keep file 0644 0:0 ${T} size=1 data=k`), warnings: ['E_TAR_INVALID'] },
  },
  {
    name: 'hardlink-to-directory',
    layers: [[d('dd/'), h('hl', 'dd')]],
    error: 'E_TAR_INVALID',
    lenient: { expect: g(ROOT, `/dd dir 0755 0:0 ${T}`), warnings: ['E_TAR_INVALID'] },
  },
  {
    name: 'hardlink-escape',
    layers: [[h('hl', '../../etc/shadow')]],
    error: 'E_UNSAFE_PATH',
    lenient: { expect: g(ROOT), warnings: ['E_UNSAFE_PATH'] },
  },
  {
    name: 'dotdot-escapes',
    layers: [[f('../evil', 'e'), f('ok', 'ok')], [f('a/../../evil2', 'e')]],
    error: 'E_UNSAFE_PATH',
    lenient: { expect: g(ROOT, `/ok file 0644 0:0 ${T} size=2 data=ok`), warnings: ['E_UNSAFE_PATH', 'E_UNSAFE_PATH'] },
  },
  {
    name: 'symlink-loop-parent',
    layers: [[l('loop1', 'loop2'), l('loop2', '/loop1')], [f('loop1/x', 'x'), f('ok', 'o')]],
    error: 'E_TAR_INVALID',
    lenient: {
      expect: g(ROOT, `/loop1 symlink 0777 0:0 ${T} -> loop2`, `/loop2 symlink 0777 0:0 ${T} -> /loop1`, `/ok file 0644 0:0 ${T} size=1 data=o`),
      warnings: ['E_TAR_INVALID'],
    },
  },
  {
    name: 'file-as-parent',
    layers: [[f('plain', 'p')], [f('plain/child', 'c')]],
    error: 'E_TAR_INVALID',
    lenient: { expect: g(ROOT, `/plain file 0644 0:0 ${T} size=1 data=p`), warnings: ['E_TAR_INVALID'] },
  },
  {
    name: 'absolute-escape',
    layers: [[f('/../../evil', 'e')]],
    error: 'E_UNSAFE_PATH',
    lenient: { expect: g(ROOT), warnings: ['E_UNSAFE_PATH'] },
  },
  {
    name: 'path-normalisation-and-root-entries',
    layers: [[d('./', { mode: 0o700, uid: 9 }), d('/', { mode: 0o700 }), f('/abs/file', 'A'), f('.//x//./y', 'Y'), d('z///'), f('a/b/../c', 'C')]],
    expect: g(
      ROOT,
      `/a dir ${IMPL}`,
      `/a/c file 0644 0:0 ${T} size=1 data=C`,
      `/abs dir ${IMPL}`,
      `/abs/file file 0644 0:0 ${T} size=1 data=A`,
      `/x dir ${IMPL}`,
      `/x/y file 0644 0:0 ${T} size=1 data=Y`,
      `/z dir 0755 0:0 ${T}`,
    ),
  },
  {
    name: 'symlink-parents-stay-inside',
    layers: [
      [d('usr/', { mode: 0o755, uid: 0, mtimeSec: 1234 }), d('usr/lib/'), l('lib', 'usr/lib'), l('evil', '/etc'), l('up', '../../..')],
      [f('lib/foo', 'F'), f('evil/passwd', 'P'), f('up/top', 'T')],
    ],
    expect: g(
      '/ dir 0755 0:0 1234.000000000',
      `/etc dir ${IMPL}`,
      `/etc/passwd file 0644 0:0 ${T} size=1 data=P`,
      `/evil symlink 0777 0:0 ${T} -> /etc`,
      `/lib symlink 0777 0:0 ${T} -> usr/lib`,
      `/top file 0644 0:0 ${T} size=1 data=T`,
      `/up symlink 0777 0:0 ${T} -> ../../..`,
      '/usr dir 0755 0:0 1234.000000000',
      `/usr/lib dir 0755 0:0 ${T}`,
      `/usr/lib/foo file 0644 0:0 ${T} size=1 data=F`,
    ),
  },
  {
    // Whiteout parents resolve through symlinks like any entry's (umoci, containerd native appliers).
    name: 'whiteout-through-symlink',
    layers: [[d('usr/'), d('usr/lib/'), f('usr/lib/keep', 'k'), f('usr/lib/other', 'o'), l('lib', 'usr/lib'), l('abs', '/usr')], [f('lib/.wh.keep', ''), f('abs/.wh.lib', '')]],
    expect: g(
      '/ dir 0755 0:0 1600000000.000000000',
      `/abs symlink 0777 0:0 ${T} -> /usr`,
      `/lib symlink 0777 0:0 ${T} -> usr/lib`,
      `/usr dir 0755 0:0 ${T}`,
    ),
  },
  {
    name: 'opaque-through-symlink',
    layers: [[d('usr/'), d('usr/lib/'), f('usr/lib/keep', 'k'), l('lib', 'usr/lib')], [f('lib/.wh..wh..opq', ''), f('lib/new', 'n')]],
    expect: g(
      '/ dir 0755 0:0 1600000000.000000000',
      `/lib symlink 0777 0:0 ${T} -> usr/lib`,
      `/usr dir 0755 0:0 ${T}`,
      `/usr/lib dir 0755 0:0 ${T}`,
      `/usr/lib/new file 0644 0:0 ${T} size=1 data=n`,
    ),
  },
  {
    name: 'root-metadata-from-usr',
    layers: [[d('./', { mode: 0o700, uid: 5 }), d('usr/', { mode: 0o750, uid: 1, gid: 2, mtimeSec: 99, mtimeNsec: 5, xattrs: { 'user.r': 'u' } })]],
    expect: g('/ dir 0750 1:2 99.000000005 xattr user.r=75', '/usr dir 0750 1:2 99.000000005 xattr user.r=75'),
  },
  {
    name: 'long-names',
    layers: [[d(`${NAME150}/`), f(`${NAME150}/${NAME255}`, 'L'), l('longlink', TARGET300), l('mid', 'm'.repeat(120)), h(`hl-${NAME255.slice(3)}`, `${NAME150}/${NAME255}`)]],
    expect: g(
      ROOT,
      `/hl-${NAME255.slice(3)} file 0644 0:0 ${T} size=1 data=L`,
      `/longlink symlink 0777 0:0 ${T} -> ${TARGET300}`,
      `/mid symlink 0777 0:0 ${T} -> ${'m'.repeat(120)}`,
      `/${NAME150} dir 0755 0:0 ${T}`,
      `/${NAME150}/${NAME255} link=/hl-${NAME255.slice(3)}`,
    ),
  },
  {
    name: 'odd-names',
    layers: [[f('new\nline', '1'), f('tab\there', '2'), f('back\\slash', '3'), f('bad\xff\xfeutf8', '4'), f('caf\xc3\xa9', 'nfc'), f('cafe\xcc\x81', 'nfd'), f(' lead space', '5'), f('x=y', '6'), d('dir\xff/', { mtimeNsec: 5 }), f('dir\xff/in\xfe', 'i', { mtimeSec: -5, mtimeNsec: 7, xattrs: { 'user.n\xff': 'v' } }), l('dir\xff/l\xfd', 't', { mtimeNsec: 9 })]],
    expect: g(
      ROOT,
      `/ lead space file 0644 0:0 ${T} size=1 data=5`,
      `/back\\x5cslash file 0644 0:0 ${T} size=1 data=3`,
      `/bad\\xff\\xfeutf8 file 0644 0:0 ${T} size=1 data=4`,
      `/cafe\\xcc\\x81 file 0644 0:0 ${T} size=3 data=nfd`,
      `/caf\\xc3\\xa9 file 0644 0:0 ${T} size=3 data=nfc`,
      '/dir\\xff dir 0755 0:0 1600000000.000000005',
      '/dir\\xff/in\\xfe file 0644 0:0 -5.000000007 size=1 data=i xattr user.n\\xff=76',
      '/dir\\xff/l\\xfd symlink 0777 0:0 1600000000.000000009 -> t',
      `/new\\x0aline file 0644 0:0 ${T} size=1 data=1`,
      `/tab\\x09here file 0644 0:0 ${T} size=1 data=2`,
      `/x=y file 0644 0:0 ${T} size=1 data=6`,
    ),
  },
  {
    name: 'ids-modes-times',
    layers: [[
      f('bigids', 'b', { uid: 70000, gid: 4_000_000_000 }),
      f('suid', 's', { mode: 0o4755 }),
      f('sgid', 'g', { mode: 0o2711 }),
      d('sticky/', { mode: 0o1777 }),
      f('old', 'o', { mtimeSec: -86400 * 365 }),
      f('oldns', 'o', { mtimeSec: -2, mtimeNsec: 500_000_000 }),
      f('future', 'f', { mtimeSec: 2 ** 33, mtimeNsec: 123_456_789 }),
      f('epoch', 'e', { mtimeSec: 0 }),
      f('noperm', 'n', { mode: 0 }),
    ]],
    expect: g(
      ROOT,
      `/bigids file 0644 70000:4000000000 ${T} size=1 data=b`,
      '/epoch file 0644 0:0 0.000000000 size=1 data=e',
      '/future file 0644 0:0 8589934592.123456789 size=1 data=f',
      `/noperm file 0000 0:0 ${T} size=1 data=n`,
      '/old file 0644 0:0 -31536000.000000000 size=1 data=o',
      '/oldns file 0644 0:0 -2.500000000 size=1 data=o',
      `/sgid file 2711 0:0 ${T} size=1 data=g`,
      `/sticky dir 1777 0:0 ${T}`,
      `/suid file 4755 0:0 ${T} size=1 data=s`,
    ),
  },
  {
    // Directories that forbid writing/searching: writers must create the children first.
    name: 'restrictive-dirs',
    layers: [[d('ro/', { mode: 0o555 }), f('ro/f', 'x', { mtimeNsec: 3 }), d('none/', { mode: 0, mtimeNsec: 4 }), f('none/g', 'y', { mode: 0o400, mtimeSec: -7, mtimeNsec: 1 }), d('none/sub/', { mode: 0o700 })]],
    expect: g(
      ROOT,
      '/none dir 0000 0:0 1600000000.000000004',
      '/none/g file 0400 0:0 -7.000000001 size=1 data=y',
      `/none/sub dir 0700 0:0 ${T}`,
      `/ro dir 0555 0:0 ${T}`,
      '/ro/f file 0644 0:0 1600000000.000000003 size=1 data=x',
    ),
  },
  {
    name: 'xattrs-binary',
    layers: [[
      f('cap', 'c', { mode: 0o755, xattrs: { 'security.capability': CAP } }),
      f('bin', 'b', { xattrs: { 'user.bin': '\x00\xff\n=', 'user.empty': '', 'trusted.t': 'T' } }),
      d('xd/', { xattrs: { 'user.dir': 'D' } }),
    ]],
    expect: g(
      ROOT,
      `/bin file 0644 0:0 ${T} size=1 data=b xattr trusted.t=54 xattr user.bin=00ff0a3d xattr user.empty=`,
      `/cap file 0755 0:0 ${T} size=1 data=c xattr security.capability=0100000200040000000000000000000000000000`,
      `/xd dir 0755 0:0 ${T} xattr user.dir=44`,
    ),
  },
  {
    name: 'specials-empty-sparse',
    layers: [[
      { path: 'null', type: 'chardev', mode: 0o666, devMajor: 1, devMinor: 3 },
      { path: 'sda1', type: 'blockdev', mode: 0o660, gid: 6, devMajor: 8, devMinor: 1 },
      { path: 'bigminor', type: 'chardev', mode: 0o600, devMajor: 250, devMinor: 70000 },
      { path: 'fifo', type: 'fifo', mode: 0o644 },
      f('empty', ''),
      { path: 'sparse', type: 'file', sparse: { size: 65536, runs: [{ offset: 0, length: 512, fill: 0x61 }, { offset: 40960, length: 1024, fill: 0x62 }] } },
      { path: 'allhole', type: 'file', sparse: { size: 8192, runs: [] } },
    ]],
    expect: g(
      ROOT,
      `/allhole file 0644 0:0 ${T} size=8192 sha256=9f1dcbc35c350d60`,
      `/bigminor chardev 0600 0:0 ${T} 250,70000`,
      `/empty file 0644 0:0 ${T} size=0 data=`,
      `/fifo fifo 0644 0:0 ${T}`,
      `/null chardev 0666 0:0 ${T} 1,3`,
      `/sda1 blockdev 0660 0:6 ${T} 8,1`,
      `/sparse file 0644 0:0 ${T} size=65536 sha256=6f4eaa30d31fdc56`,
    ),
  },
  {
    // 30 implicit directories, a 932-byte path: pax path records, deep recursion in every writer.
    name: 'deep-nesting',
    layers: [[f(`${DEEP.join('/')}/leaf`, 'deep')]],
    expect: g(ROOT, ...DEEP.map((_, i) => `/${DEEP.slice(0, i + 1).join('/')} dir ${IMPL}`), `/${DEEP.join('/')}/leaf file 0644 0:0 ${T} size=4 data=deep`),
  },
  {
    name: 'aufs-metadata-ignored',
    layers: [[f('.wh..wh.plnk/123.456', 'x'), f('.wh..wh.aufs', ''), f('real', 'r')]],
    expect: g(ROOT, `/real file 0644 0:0 ${T} size=1 data=r`),
  },
];

/** Writes the layer tars of `c` under `dir` and returns flatten inputs. */
export async function layersOf(c: QuirkCase, dir: string): Promise<LayerInput[]> {
  await mkdir(dir, { recursive: true });
  const out: LayerInput[] = [];
  for (let i = 0; i < c.layers.length; i++) {
    const tarPath = join(dir, `layer${i}.tar`);
    const entries = await buildLayerTar(tarPath, c.layers[i]);
    out.push({ label: `${c.name}#${i}`, tarPath, entries: iterate(entries) });
  }
  return out;
}

/**
 * The flattened and validated tree of every corpus case that flattens
 * without error (strict mode), with real layer tars under `tmpDir` (file
 * contents reference them, so keep `tmpDir` until the trees are used).
 */
export async function buildQuirkTrees(tmpDir: string): Promise<{ name: string; tree: ValidatedTree }[]> {
  const out: { name: string; tree: ValidatedTree }[] = [];
  for (const c of QUIRK_CASES) {
    if (c.error !== undefined) continue;
    const { root } = await flattenLayers(await layersOf(c, join(tmpDir, c.name)));
    out.push({ name: c.name, tree: validateTree(root) });
  }
  return out;
}
