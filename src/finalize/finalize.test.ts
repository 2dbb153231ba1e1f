import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bashQuote } from './shell-quote.js';
import { enrootFiles } from './enroot.js';
import { finalizeTree, parseAddSpec } from './finalize.js';
import { newDir, IMPLICIT_DIR } from '../tree/path.js';
import { readAll } from '../tree/content.js';
import type { DirInode, FileInode } from '../tree/types.js';
import { isOci2fsError } from '../errors.js';

const TRICKY = ['', 'plain', "it's", 'sp ace', 'tab\there', 'nl\nx', 'café', '\x1b[0m', "q'\\b", '$HOME', 'a"b', '\x7f', '\x01\x07', 'ü\u00a0', 'x\u2028y', "mix'\t\\"];

test('bashQuote matches bash ${x@Q} (C.UTF-8)', () => {
  const want = execFileSync('bash', ['-c', 'a=("$@"); printf "%s\\n" "${a[@]@Q}"', '_', ...TRICKY], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  assert.equal(TRICKY.map(bashQuote).join('\n') + '\n', want);
});

test('/etc/rc execs the exact argv (checked by running it in bash)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-rc-'));
  try {
    const files = enrootFiles({ env: [], workingDir: '/w', entrypoint: ['/bin/ep', "it's", 'a b'], cmd: ['x\ny', '$HOME', ''] });
    await writeFile(join(dir, 'rc'), files.get('/etc/rc')!);
    // Replace exec/cd/mkdir with recorders, then source the script as enroot does.
    const run = (...args: string[]) =>
      execFileSync('bash', ['-c', 'exec() { printf "<%s>" "$@"; exit 0; }; cd() { printf "cd:%s;" "$1"; }; mkdir() { :; }; . "$0"', join(dir, 'rc'), ...args], { encoding: 'utf8' });
    assert.equal(run(), "cd:/w;</bin/ep><it's><a b><x\ny><$HOME><>");
    assert.equal(run('arg 1', '2'), "cd:/w;</bin/ep><it's><a b><arg 1><2>");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('enroot files: golden text', () => {
  const f = enrootFiles({ env: ['PATH=/usr/bin:/bin', 'A=b c'], volumes: ['/data', '/cache', '/data'], labels: [['maintainer', 'me']], entrypoint: [], cmd: [] });
  assert.equal(f.get('/etc/environment'), 'PATH=/usr/bin:/bin\nA=b c\n');
  assert.equal(f.get('/etc/fstab'), '${ENROOT_ROOTFS}/cache /cache none x-create=dir,bind,rw,nosuid,nodev\n${ENROOT_ROOTFS}/data /data none x-create=dir,bind,rw,nosuid,nodev\n');
  assert.equal(
    f.get('/etc/rc'),
    '# maintainer me\n\nmkdir -p "/" 2> /dev/null\ncd "/" && unset OLDPWD || exit 1\n\nif [ -s /etc/rc.local ]; then\n    . /etc/rc.local\nfi\n\n' +
      "if [ $# -gt 0 ]; then\n    exec  \"$@\"\nelse\n    exec  '/bin/sh'\nfi\n",
  );
  assert.match(f.get('/etc/rc.local')!, /^# This file is sourced by \/etc\/rc when the container starts\.\n# It can be used/);
});

test('parseAddSpec', () => {
  assert.deepEqual(parseAddSpec('a:/b'), { src: 'a', dest: '/b' });
  assert.deepEqual(parseAddSpec('./t:/usr/bin/t:4755:0:10'), { src: './t', dest: '/usr/bin/t', mode: 0o4755, uid: 0, gid: 10 });
  assert.deepEqual(parseAddSpec('a:/b:644'), { src: 'a', dest: '/b', mode: 0o644 });
  for (const bad of ['a', 'a:b', ':/b', 'a:/', 'a:/b:9', 'a:/b:644:1', 'a:/b:644:x:1', 'a:/b:644:1:2:3', 'a:/b:644:1:4294967295']) {
    assert.throws(() => parseAddSpec(bad), (e: unknown) => isOci2fsError(e, 'E_USAGE'), bad);
  }
});

function file(text: string, mtimeSec: number): FileInode {
  const data = new Uint8Array(Buffer.from(text));
  return { kind: 'file', mode: 0o644, uid: 0, gid: 0, mtimeSec, mtimeNsec: 7, xattrs: new Map(), size: data.length, content: { kind: 'inline', data } };
}

function sample(): DirInode {
  const root = newDir(IMPLICIT_DIR);
  const etc = newDir({ ...IMPLICIT_DIR, mtimeSec: 500 });
  etc.children.set('rc', file('old', 100));
  root.children.set('etc', etc);
  root.children.set('new', file('n', 2000));
  return root;
}

test('finalizeTree: generated files, newest-mtime rule, provenance, add', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-fin-'));
  try {
    await writeFile(join(dir, 'tool'), 'bin');
    await chmod(join(dir, 'tool'), 0o755);
    await mkdir(join(dir, 'tree', 'sub'), { recursive: true });
    await writeFile(join(dir, 'tree', 'sub', 'f'), 'f');
    const root = sample();
    const tree = await finalizeTree(root, {
      enroot: { env: ['A=1'], workingDir: '/work/dir' },
      provenance: { uri: 'docker://x/y:1', manifestDigest: 'sha256:m', configDigest: 'sha256:c', platform: 'linux/amd64' },
      add: [{ src: join(dir, 'tool'), dest: '/opt/bin/tool' }, { src: join(dir, 'tree'), dest: '/opt/t', uid: 5, gid: 6 }],
    });
    const r = tree.root;
    const etc = r.children.get('etc') as DirInode;
    const rc = etc.children.get('rc') as FileInode;
    assert.equal((await readAll(rc)).toString().includes('exec  \'/bin/sh\''), true);
    assert.deepEqual([rc.mode, rc.uid, rc.gid, rc.mtimeSec, rc.mtimeNsec], [0o644, 0, 0, 2000, 7]);
    assert.equal(etc.mtimeSec, 500, 'existing directories keep their metadata');
    const src = (r.children.get('.enroot') as DirInode).children.get('source') as FileInode;
    assert.equal((await readAll(src)).toString(), 'uri=docker://x/y:1\nmanifest-digest=sha256:m\nconfig-digest=sha256:c\nplatform=linux/amd64\n');
    const work = (r.children.get('work') as DirInode).children.get('dir') as DirInode;
    assert.deepEqual([work.kind, work.mode, work.mtimeSec], ['dir', 0o755, 2000]);
    const opt = r.children.get('opt') as DirInode;
    const tool = (opt.children.get('bin') as DirInode).children.get('tool') as FileInode;
    assert.deepEqual([tool.mode, tool.uid, tool.mtimeSec, (await readAll(tool)).toString()], [0o755, 0, 2000, 'bin']);
    const t = opt.children.get('t') as DirInode;
    const f = (t.children.get('sub') as DirInode).children.get('f') as FileInode;
    assert.deepEqual([t.uid, t.gid, f.uid, f.gid, f.mtimeSec, (await readAll(f)).toString()], [5, 6, 5, 6, 2000, 'f']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('finalizeTree: SOURCE_DATE_EPOCH clamps newer mtimes only and dates generated files', async () => {
  const root = sample();
  const tree = await finalizeTree(root, { sourceDateEpoch: 1000, provenance: { uri: 'u', manifestDigest: 'm', configDigest: 'c', platform: 'p' } });
  const etc = tree.root.children.get('etc') as DirInode;
  assert.deepEqual([etc.mtimeSec, etc.mtimeNsec], [500, 0]);
  assert.deepEqual([(etc.children.get('rc') as FileInode).mtimeSec, (etc.children.get('rc') as FileInode).mtimeNsec], [100, 7]);
  assert.deepEqual([(tree.root.children.get('new') as FileInode).mtimeSec, (tree.root.children.get('new') as FileInode).mtimeNsec], [1000, 0]);
  const dot = tree.root.children.get('.enroot') as DirInode;
  assert.deepEqual([dot.mtimeSec, (dot.children.get('source') as FileInode).mtimeSec], [1000, 1000]);
});

test('finalizeTree: refuses to put a file over a directory', async () => {
  const root = sample();
  (root.children.get('etc') as DirInode).children.set('rc', newDir(IMPLICIT_DIR));
  await assert.rejects(finalizeTree(root, { enroot: { env: [] } }), (e: unknown) => isOci2fsError(e, 'E_TREE_INVALID'));
});

test('enroot fixups: /dev emptied, u+rX, u+w on shallow dirs, all root', async () => {
  const { applyEnrootFixups } = await import('./enroot-fixups.js');
  const root = newDir(IMPLICIT_DIR);
  const dev = newDir(IMPLICIT_DIR);
  dev.children.set('null', file('', 1));
  root.children.set('dev', dev);
  let d = root;
  for (let i = 1; i <= 7; i++) {
    const c = newDir({ ...IMPLICIT_DIR, mode: 0o555, uid: 7 });
    d.children.set(`l${i}`, c);
    d = c;
  }
  const f0 = { ...file('x', 1), mode: 0o010, uid: 3, gid: 4 };
  const f1 = { ...file('y', 1), mode: 0o000 };
  d.children.set('exec-by-group', f0);
  d.children.set('noperm', f1);
  applyEnrootFixups(root);
  assert.equal(dev.children.size, 0);
  const modes: number[] = [];
  let x: DirInode = root;
  for (let i = 1; i <= 7; i++) {
    x = x.children.get(`l${i}`) as DirInode;
    modes.push(x.mode);
    assert.equal(x.uid, 0);
  }
  // levels 1..5 get u+w (find -maxdepth 5), 6 and 7 keep 0555
  assert.deepEqual(modes.map((m) => m.toString(8)), ['755', '755', '755', '755', '755', '555', '555']);
  assert.deepEqual([f0.mode.toString(8), f0.uid, f0.gid, f1.mode.toString(8)], ['510', 0, 0, '400']);
});

test('enroot fixups agree with chmod -R u+rX and find -maxdepth 5 on disk', async () => {
  const { applyEnrootFixups } = await import('./enroot-fixups.js');
  const { scanDirectory } = await import('../tree/scan.js');
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-fixperms-'));
  try {
    let p = dir;
    for (let i = 1; i <= 7; i++) {
      p = join(p, `l${i}`);
      await mkdir(p);
    }
    for (const [name, mode] of [['a', 0o000], ['b', 0o010], ['c', 0o644], ['d', 0o4001]] as const) {
      await writeFile(join(p, name), name);
      await chmod(join(p, name), mode);
    }
    execFileSync('sh', ['-c', `for d in $(find "$0" -mindepth 1 -type d | sort -r); do chmod 0555 "$d"; done`, dir]);
    const before = await scanDirectory(dir, { xattrs: false });
    applyEnrootFixups(before);
    execFileSync('sh', ['-c', 'chmod -f -R u+rX "$0"; find "$0" -maxdepth 5 -type d ! -perm -u=w -exec chmod -f u+w {} +', dir]);
    const after = await scanDirectory(dir, { xattrs: false });
    const modes = (root: DirInode): string[] => {
      const out: string[] = [];
      const rec = (d: DirInode, path: string): void => {
        for (const [n, c] of [...d.children].sort()) {
          out.push(`${path}/${n} ${c.mode.toString(8)}`);
          if (c.kind === 'dir') rec(c, `${path}/${n}`);
        }
      };
      rec(root, '');
      return out;
    };
    assert.deepEqual(modes(before), modes(after));
  } finally {
    execFileSync('chmod', ['-R', 'u+rwX', dir]);
    await rm(dir, { recursive: true, force: true });
  }
});
