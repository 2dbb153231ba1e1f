/**
 * Checks the test harness itself against independent tools: images we build
 * and push are read back by skopeo (through basic and token auth), and the
 * layouts are valid for umoci.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from './registry.js';
import { buildImage, buildIndex, makeRandomFile } from './image-builder.js';
import type { ImageSpec } from './image-builder.js';
import { pushLayout } from './push.js';

const execFileAsync = promisify(execFile);

/** skopeo must run asynchronously: the fault proxy lives in this process's event loop. */
async function skopeoInspect(ref: string, creds?: string, raw = false): Promise<string> {
  const args = ['inspect', '--tls-verify=false', ...(raw ? ['--raw'] : []), ...(creds ? ['--creds', creds] : ['--no-creds']), `docker://${ref}`];
  return (await execFileAsync('skopeo', args, { encoding: 'utf8', timeout: 20_000 })).stdout;
}

test('buildImage is deterministic and tar lists the files', async (t) => {
  const a = await mkdtemp(join(tmpdir(), 'h-a-'));
  const b = await mkdtemp(join(tmpdir(), 'h-b-'));
  t.after(() => Promise.all([rm(a, { recursive: true }), rm(b, { recursive: true })]));
  const spec: ImageSpec = {
    layers: [
      { files: { 'etc/hostname': 'box\n', bin: { type: 'dir' as const }, 'bin/sh': { type: 'symlink' as const, target: 'busybox' } } },
      { files: { 'x/y': Buffer.from([1, 2, 3]) }, compression: 'zstd' as const },
    ],
  };
  const i1 = await buildImage(spec, a);
  const i2 = await buildImage(spec, b);
  assert.equal(i1.manifestDigest, i2.manifestDigest);
  const tarList = execFileSync('tar', ['-tzvf', join(a, 'blobs', 'sha256', i1.layers[0].digest.slice(7))], { encoding: 'utf8' });
  assert.match(tarList, /bin\/sh -> busybox/);
  assert.match(tarList, /0\/0 .* etc\/hostname/);
  const zl = execFileSync('bash', ['-c', `zstd -dc ${join(a, 'blobs', 'sha256', i1.layers[1].digest.slice(7))} | tar -tf -`], { encoding: 'utf8' });
  assert.equal(zl.trim().split('\n').sort().join(','), 'x/,x/y');
  // umoci validates the layout structure independently.
  const st = JSON.parse(execFileSync('umoci', ['stat', '--image', `${a}:latest`, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as { history: { layer: { digest: string } | null }[] };
  assert.deepEqual(st.history.map((h) => h.layer?.digest), i1.layers.map((l) => l.digest));
});

test('makeRandomFile is deterministic per seed', async (t) => {
  const d = await mkdtemp(join(tmpdir(), 'h-r-'));
  t.after(() => rm(d, { recursive: true }));
  await makeRandomFile(join(d, 'a'), 100_003, 7);
  await makeRandomFile(join(d, 'b'), 100_003, 7);
  await makeRandomFile(join(d, 'c'), 100_003, 8);
  assert.equal((await stat(join(d, 'a'))).size, 100_003);
  assert.deepEqual(await readFile(join(d, 'a')), await readFile(join(d, 'b')));
  assert.notDeepEqual(await readFile(join(d, 'a')), await readFile(join(d, 'c')));
});

for (const auth of ['none', 'basic', 'token'] as const) {
  test(`push + skopeo inspect through ${auth} auth`, async (t) => {
    const reg = await startRegistry({ auth });
    const dir = await mkdtemp(join(tmpdir(), 'h-p-'));
    t.after(async () => {
      await reg.stop();
      await rm(dir, { recursive: true });
    });
    const amd = await buildImage({ layers: [{ files: { a: 'amd64\n' } }] }, dir);
    const arm = await buildImage({ layers: [{ files: { a: 'arm64\n' } }], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, dir);
    const idx = await buildIndex([amd, arm], dir);
    const [user, pass] = Object.entries(reg.users)[0] ?? [];
    const opts = user ? { auth: { username: user, password: pass } } : {};
    const top = await pushLayout(dir, reg.host, 'test/multi', 'v1', opts);
    assert.equal(top, idx.indexDigest);
    const creds = user ? `${user}:${pass}` : undefined;
    const raw = await skopeoInspect(`${reg.host}/test/multi:v1`, creds, true);
    assert.equal(raw, idx.bytes.toString('utf8'));
    const info = JSON.parse(await skopeoInspect(`${reg.host}/test/multi@${arm.manifestDigest}`, creds)) as { Architecture: string; Layers: string[] };
    assert.equal(info.Architecture, 'arm64');
    assert.deepEqual(info.Layers, [arm.layers[0].digest]);
    assert.ok(reg.proxy.count(/\/v2\/test\/multi\/manifests\//, 'GET') >= 2);
    if (auth !== 'none') {
      await assert.rejects(skopeoInspect(`${reg.host}/test/multi:v1`, `${user}:wrong`, true));
    }
    if (auth === 'token') assert.ok(reg.tokenServer!.requests.some((r) => r.status === 200 && r.account === user));
  });
}
