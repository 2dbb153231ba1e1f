/**
 * Independent check: skopeo writes an auth.json for a local docker-registry
 * with htpasswd auth; our resolver must read the credential skopeo stored, and
 * that credential must open the registry. The registry's real
 * WWW-Authenticate header is parsed too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCredentialResolver } from './resolver.js';
import { parseWwwAuthenticate } from './challenge.js';

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

async function waitUp(url: string): Promise<Response> {
  for (let i = 0; i < 50; i++) {
    try {
      return await fetch(url);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`registry at ${url} did not start`);
}

test('reads the auth.json that skopeo login writes, and the credential opens the registry', async (t) => {
  if (!have('docker-registry') || !have('skopeo') || !have('htpasswd')) {
    t.skip('docker-registry, skopeo or htpasswd not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-skopeo-login-'));
  let registry: ChildProcess | undefined;
  try {
    const user = 'alice';
    const password = 'pa:ss w0rd';
    const ht = spawnSync('htpasswd', ['-Bbn', user, password]);
    assert.equal(ht.status, 0);
    await writeFile(join(dir, 'htpasswd'), ht.stdout);
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    await writeFile(
      join(dir, 'config.yml'),
      [
        'version: 0.1',
        'log:',
        '  level: error',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${join(dir, 'data')}`,
        'http:',
        `  addr: ${host}`,
        'auth:',
        '  htpasswd:',
        '    realm: "oci2fs, test realm"',
        `    path: ${join(dir, 'htpasswd')}`,
        '',
      ].join('\n'),
    );
    registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    const anon = await waitUp(`http://${host}/v2/`);
    assert.equal(anon.status, 401);
    assert.deepEqual(parseWwwAuthenticate(anon.headers.get('www-authenticate') ?? ''), [
      { scheme: 'basic', params: { realm: 'oci2fs, test realm' } },
    ]);

    const authfile = join(dir, 'auth.json');
    const login = spawnSync('skopeo', ['login', '--tls-verify=false', '--authfile', authfile, '-u', user, '--password-stdin', host], {
      input: password,
    });
    assert.equal(login.status, 0, login.stderr.toString());

    const cred = await createCredentialResolver({ authfile, homeDir: dir, env: { PATH: process.env.PATH } }).get(host);
    assert.deepEqual(cred, { username: user, password });
    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    const ok = await fetch(`http://${host}/v2/`, { headers: { authorization: `Basic ${basic}` } });
    assert.equal(ok.status, 200);
  } finally {
    if (registry?.pid) registry.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
