/**
 * Pulling through basic and token auth (the harness's htpasswd registry and
 * token server), wrong credentials, and a blob redirect to another host that
 * must not receive our Authorization header.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { buildImage } from '../harness/image-builder.js';
import { pushLayout } from '../harness/push.js';
import { runCli } from './cli.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function setup(auth: 'basic' | 'token'): Promise<{ reg: TestRegistry; store: string; digest: string; creds: string; layer: string }> {
  const reg = await startRegistry({ auth });
  cleanup.push(() => reg.stop());
  const work = await mkdtemp(join(tmpdir(), `oci2fs-pull-${auth}-`));
  cleanup.push(() => rm(work, { recursive: true, force: true }));
  const img = await buildImage({ layers: [{ files: { f: `${auth}\n` } }] }, join(work, 'img'));
  const [user, password] = Object.entries(reg.users)[0];
  await pushLayout(join(work, 'img'), reg.host, 'private/img', 'v1', { auth: { username: user, password } });
  return { reg, store: join(work, 'store'), digest: img.manifestDigest, creds: `${user}:${password}`, layer: img.layers[0].digest };
}

for (const auth of ['basic', 'token'] as const) {
  test(`${auth} auth: --creds pulls, no or wrong credentials give E_AUTH`, async () => {
    const { reg, store, digest, creds } = await setup(auth);
    const ref = `docker://${reg.host}/private/img:v1`;
    const ok = await runCli(['pull', '--store', store, '--insecure-registry', reg.host, '--creds', creds, ref]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), digest);
    const wrong = await runCli(['pull', '--store', store + '2', '--insecure-registry', reg.host, '--creds', 'tester:wrong', ref]);
    assert.equal(wrong.code, 3, wrong.stderr);
    assert.match(wrong.stderr, /E_AUTH/);
    assert.doesNotMatch(wrong.stderr, /wrong/, 'the password is never printed');
    const none = await runCli(['pull', '--store', store + '3', '--insecure-registry', reg.host, ref], { HOME: store + '-home' });
    assert.equal(none.code, 3, none.stderr);
  });
}

test("enroot's USER@REGISTRY#IMAGE picks that user's credentials from the auth file", async () => {
  const { reg, store, digest, creds } = await setup('basic');
  const authfile = join(store + '-auth.json');
  await writeFile(authfile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(creds).toString('base64') } } }));
  const user = creds.split(':')[0];
  const ok = await runCli(['pull', '--store', store, '--insecure-registry', reg.host, '--authfile', authfile, `docker://${user}@${reg.host}#private/img:v1`]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), digest);
  const other = await runCli(['pull', '--store', store + '2', '--insecure-registry', reg.host, '--authfile', authfile, `docker://nobody@${reg.host}#private/img:v1`]);
  assert.equal(other.code, 3, other.stderr);
});

test('a blob redirect to another host is followed without our Authorization header', async () => {
  const { reg, store, digest, creds, layer } = await setup('basic');
  reg.proxy.addFault({ path: new RegExp(`/blobs/${layer}$`), method: 'GET', fault: { kind: 'redirect', status: 307 } });
  const r = await runCli(['pull', '--store', store, '--insecure-registry', reg.host, '--creds', creds, `docker://${reg.host}/private/img:v1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), digest);
  const side = reg.proxy.blobServer.requests;
  assert.ok(side.length >= 1, 'the redirect target was asked');
  assert.ok(side.every((q) => !q.authorization), 'no Authorization sent to another host');
});
