/**
 * Every quirk tree of the flatten corpus through every image writer, read
 * back by independent parts: the format's own checker (unsquashfs,
 * fsck.erofs, e2fsck) and the Linux kernel (a read-only loop mount), whose
 * view is scanned and compared with the source tree line by line.
 *
 * Where a format cannot represent a value the comparison normalises it, and
 * the normalisation is named here: squashfs keeps whole seconds in an
 * unsigned 32-bit field.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildQuirkTrees } from '../quirks/corpus.js';
import { describeTree } from '../quirks/describe.js';
import { scanDirectory } from '../../src/tree/scan.js';
import { closeContentFiles } from '../../src/tree/content.js';
import type { DirInode, ValidatedTree } from '../../src/tree/types.js';
import { walk } from '../../src/tree/types.js';
import { writeSquashfs } from '../../src/writers/squashfs/writer.js';
import { writeErofs } from '../../src/writers/erofs/index.js';
import { writeExt4 } from '../../src/writers/ext4/index.js';

let work: string;
let trees: { name: string; tree: ValidatedTree }[] = [];

/** Why loop mounts cannot run here, or undefined when they can. */
function mountBlocker(): string | undefined {
  if (process.getuid?.() !== 0) return 'loop mounts need root';
  const r = spawnSync('losetup', ['-f'], { encoding: 'utf8' });
  if (r.status !== 0) return `no free loop device (${(r.stderr || '').trim()})`;
  return undefined;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'oci2fs-quirks-mount-'));
  trees = await buildQuirkTrees(join(work, 'layers'));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

type Normalise = (root: DirInode) => void;

const squashfsTimes: Normalise = (root) =>
  walk(root, (_p, i) => {
    i.mtimeNsec = 0;
    i.mtimeSec = Math.max(0, Math.min(i.mtimeSec, 0xffffffff));
  });

/** A deep copy of the tree's metadata (contents shared) so normalising never touches the original. */
function cloneTree(root: DirInode): DirInode {
  const seen = new Map<unknown, unknown>();
  const rec = (n: any): any => {
    if (seen.has(n)) return seen.get(n);
    const c = { ...n, xattrs: new Map(n.xattrs) };
    seen.set(n, c);
    if (n.kind === 'dir') c.children = new Map([...n.children].map(([k, v]) => [k, rec(v)]));
    return c;
  };
  return rec(root);
}

const FORMATS: {
  name: string;
  ext: string;
  fstype: string;
  write: (t: ValidatedTree, out: string) => Promise<unknown>;
  check: (out: string) => void;
  normalise?: Normalise;
  ignore?: (path: string) => boolean;
}[] = [
  {
    name: 'squashfs',
    ext: 'sqsh',
    fstype: 'squashfs',
    write: (t, out) => writeSquashfs(t, out, { compressor: 'zstd', jobs: 2 }),
    check: (out) => execFileSync('unsquashfs', ['-lln', '-d', '', out], { stdio: 'pipe' }),
    normalise: squashfsTimes,
  },
  {
    name: 'erofs',
    ext: 'erofs',
    fstype: 'erofs',
    write: (t, out) => writeErofs(t, out, {}),
    check: (out) => execFileSync('fsck.erofs', [out], { stdio: 'pipe' }),
  },
  {
    name: 'ext4',
    ext: 'ext4',
    fstype: 'ext4',
    write: (t, out) => writeExt4(t, out, {}),
    check: (out) => execFileSync('e2fsck', ['-fn', out], { stdio: 'pipe' }),
    ignore: (p) => p === '/lost+found' || p.startsWith('/lost+found/'),
  },
];

function dropPaths(root: DirInode, ignore: (p: string) => boolean): void {
  const rec = (dir: DirInode, path: string) => {
    for (const [name, child] of [...dir.children]) {
      const p = path === '/' ? `/${name}` : `${path}/${name}`;
      if (ignore(p)) dir.children.delete(name);
      else if (child.kind === 'dir') rec(child, p);
    }
  };
  rec(root, '/');
}

for (const f of FORMATS) {
  test(`every quirk tree as ${f.name}: accepted by its checker and identical through a kernel mount`, async (t) => {
    const blocker = mountBlocker();
    assert.ok(trees.length >= 10, 'the quirk corpus yields trees');
    for (const { name, tree } of trees) {
      const out = join(work, `${name}.${f.ext}`);
      await f.write(tree, out);
      f.check(out);
      if (blocker) continue;
      const mnt = join(work, `mnt-${f.name}-${name}`);
      await mkdir(mnt);
      execFileSync('mount', ['-t', f.fstype, '-o', 'loop,ro', out, mnt]);
      try {
        const seen = await scanDirectory(mnt);
        if (f.ignore) dropPaths(seen, f.ignore);
        const expected = cloneTree(tree.root);
        f.normalise?.(expected);
        f.normalise?.(seen);
        assert.equal(await describeTree(seen), await describeTree(expected), `${f.name}: quirk case ${name}`);
      } finally {
        closeContentFiles(); // readContent keeps descriptors open; a mount with open files cannot be unmounted
        execFileSync('umount', [mnt]);
      }
    }
    if (blocker) t.skip(`kernel comparison skipped: ${blocker}`);
  });
}
