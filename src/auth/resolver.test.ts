import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm, chmod } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCredentialResolver } from './resolver.js';
import { isOci2fsError, ErrorCode } from '../errors.js';

let root: string;
let binDir: string;

/** base64 computed by coreutils, independent of Node's Buffer. */
function b64(s: string): string {
  return execFileSync('base64', ['-w0'], { input: s }).toString().trim();
}

async function home(name: string, files: Record<string, string>): Promise<string> {
  const h = join(root, name);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(h, rel, '..'), { recursive: true });
    await writeFile(join(h, rel), text);
  }
  return h;
}

const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: `${binDir}:/usr/bin:/bin` });

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'oci2fs-auth-'));
  binDir = join(root, 'bin');
  await mkdir(binDir);
  // A fake helper following the docker-credential-helpers protocol.
  const helper = `#!/bin/sh
[ "$1" = get ] || exit 2
read -r url
case "$url" in
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hubuser","Secret":"hub-secret"}' "$url" ;;
  tok.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-tok"}' "$url" ;;
  store.example.com) printf '{"ServerURL":"%s","Username":"storeuser","Secret":"store-secret"}' "$url" ;;
  broken.example.com) echo "backend exploded" >&2; exit 3 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
  await writeFile(join(binDir, 'docker-credential-test'), helper);
  await chmod(join(binDir, 'docker-credential-test'), 0o755);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('docker config.json: base64 auth, legacy Docker Hub key applies to all Hub names', async () => {
  const h = await home('h1', {
    '.docker/config.json': JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubu:hub:pw') },
        'ghcr.io': { auth: b64('gu:gpw') },
        'quay.io': { identitytoken: 'idtok' },
      },
    }),
  });
  const r = createCredentialResolver({ homeDir: h, env: baseEnv() });
  for (const host of ['docker.io', 'registry-1.docker.io', 'index.docker.io']) {
    assert.deepEqual(await r.get(host), { username: 'hubu', password: 'hub:pw' }, host);
  }
  assert.deepEqual(await r.get('ghcr.io'), { username: 'gu', password: 'gpw' });
  assert.deepEqual(await r.get('quay.io'), { identityToken: 'idtok' });
  assert.equal(await r.get('example.org'), undefined);
  assert.equal((await r.lookup('ghcr.io'))?.source, join(h, '.docker/config.json'));
});

test('auth.json host/namespace keys: most specific first', async () => {
  const h = await home('h2', {
    '.config/containers/auth.json': JSON.stringify({
      auths: {
        'reg.example.com': { auth: b64('host:1') },
        'reg.example.com/team': { auth: b64('team:2') },
        'reg.example.com/team/app': { auth: b64('app:3') },
      },
    }),
  });
  const r = createCredentialResolver({ homeDir: h, env: baseEnv() });
  assert.deepEqual(await r.get('reg.example.com', 'team/app'), { username: 'app', password: '3' });
  assert.deepEqual(await r.get('reg.example.com', 'team/other'), { username: 'team', password: '2' });
  assert.deepEqual(await r.get('reg.example.com', 'solo'), { username: 'host', password: '1' });
  assert.deepEqual(await r.get('reg.example.com'), { username: 'host', password: '1' });
});

test('source order: --creds, --authfile, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, docker config, enroot', async () => {
  const mk = (u: string) => JSON.stringify({ auths: { 'r.example.com': { auth: b64(`${u}:pw-${u}`) } } });
  const h = await home('h3', {
    'explicit.json': mk('explicit'),
    'env.json': mk('envfile'),
    'run/containers/auth.json': mk('runtime'),
    '.docker/config.json': mk('docker'),
    '.config/enroot/.credentials': 'machine r.example.com login enrootu password enroot-pw\n',
  });
  const env = { ...baseEnv(), REGISTRY_AUTH_FILE: join(h, 'env.json'), XDG_RUNTIME_DIR: join(h, 'run') };
  const get = (o: object, e: NodeJS.ProcessEnv = env) => createCredentialResolver({ homeDir: h, env: e, ...o }).get('r.example.com');
  assert.deepEqual(await get({ creds: 'cli:clipw', authfile: join(h, 'explicit.json') }), { username: 'cli', password: 'clipw' });
  assert.deepEqual(await get({ authfile: join(h, 'explicit.json') }), { username: 'explicit', password: 'pw-explicit' });
  assert.deepEqual(await get({}), { username: 'envfile', password: 'pw-envfile' });
  assert.deepEqual(await get({}, { ...baseEnv(), XDG_RUNTIME_DIR: join(h, 'run') }), { username: 'runtime', password: 'pw-runtime' });
  assert.deepEqual(await get({}, baseEnv()), { username: 'docker', password: 'pw-docker' });
  await rm(join(h, '.docker/config.json'));
  assert.deepEqual(await get({}, baseEnv()), { username: 'enrootu', password: 'enroot-pw' });
});

test('--creds without password takes the password for that user from the files', async () => {
  const h = await home('h4', {
    '.config/enroot/.credentials': [
      'machine nvcr.io login someone password wrong',
      'machine nvcr.io login $oauthtoken password "ngc key with spaces"',
      '# comment line',
      'default login anyone password everywhere',
    ].join('\n'),
  });
  const r = createCredentialResolver({ homeDir: h, env: baseEnv(), creds: '$oauthtoken' });
  assert.deepEqual(await r.get('nvcr.io'), { username: '$oauthtoken', password: 'ngc key with spaces' });
  // `default` is never used for unknown hosts, so the user-only --creds fails clearly
  await assert.rejects(r.get('other.example.com'), (e: unknown) => isOci2fsError(e, ErrorCode.AUTH) && /USER:PASSWORD/.test(e.message));
  assert.equal(await createCredentialResolver({ homeDir: h, env: baseEnv() }).get('other.example.com'), undefined);
});

test('enroot netrc: ENROOT_CONFIG_PATH, machine without port, $VAR passwords evaluated', async () => {
  const h = await home('h5', {
    'cfg/.credentials':
      'machine localhost login me password $MY_TOKEN\nmachine registry-1.docker.io login hub password hubpw\n' +
      `machine cmd.example.com login AWS password $(printf '%s' "from-cmd" | tr a-z A-Z)\n` +
      'machine fail.example.com login x password $(exit 7)\n',
  });
  const env = { ...baseEnv(), ENROOT_CONFIG_PATH: join(h, 'cfg'), MY_TOKEN: 's3cr3t' };
  const r = createCredentialResolver({ homeDir: h, env });
  assert.deepEqual(await r.get('localhost:5000'), { username: 'me', password: 's3cr3t' });
  assert.deepEqual(await r.get('docker.io'), { username: 'hub', password: 'hubpw' });
  assert.deepEqual(await r.get('cmd.example.com'), { username: 'AWS', password: 'FROM-CMD' });
  await assert.rejects(r.get('fail.example.com'), (e: unknown) => isOci2fsError(e, ErrorCode.AUTH) && /machine fail\.example\.com in .*\.credentials evaluated to nothing/.test(e.message));
});

test('credential helpers: credHelpers per host, credsStore for the rest, <token> means identity token', async () => {
  const h = await home('h6', {
    '.docker/config.json': JSON.stringify({
      credHelpers: { 'tok.example.com': 'test', 'broken.example.com': 'test', 'nohelper.example.com': 'absent' },
      credsStore: 'test',
      auths: { 'inline.example.com': { auth: b64('in:line') }, 'https://index.docker.io/v1/': {} },
    }),
  });
  const r = createCredentialResolver({ homeDir: h, env: baseEnv() });
  assert.deepEqual(await r.get('tok.example.com'), { identityToken: 'refresh-tok' });
  assert.deepEqual(await r.get('registry-1.docker.io'), { username: 'hubuser', password: 'hub-secret' });
  assert.deepEqual(await r.get('store.example.com'), { username: 'storeuser', password: 'store-secret' });
  assert.deepEqual(await r.get('inline.example.com'), { username: 'in', password: 'line' });
  assert.equal(await r.get('unknown.example.com'), undefined);
  assert.equal((await r.lookup('store.example.com'))?.source, 'docker-credential-test');
  await assert.rejects(r.get('broken.example.com'), (e: unknown) => isOci2fsError(e, ErrorCode.AUTH) && /docker-credential-test failed for broken\.example\.com \(exit 3\)/.test(e.message));
  await assert.rejects(r.get('nohelper.example.com'), (e: unknown) => isOci2fsError(e, ErrorCode.AUTH) && /docker-credential-absent/.test(e.message));
});

test('a missing credsStore program means no credential, not an error', async () => {
  const h = await home('h7', { '.docker/config.json': JSON.stringify({ credsStore: 'desktop-not-installed', auths: {} }) });
  assert.equal(await createCredentialResolver({ homeDir: h, env: baseEnv() }).get('ghcr.io'), undefined);
});

test('bad auth files: the error names the file, never its content', async () => {
  const secret = 'SUPERSECRETVALUE';
  const h = await home('h8', {
    'bad.json': `{"auths": {"x.io": {"auth": "${secret}"`,
    'badauth.json': JSON.stringify({ auths: { 'x.io': { auth: b64(secret) } } }),
    'wrongtype.json': JSON.stringify({ auths: { 'x.io': { auth: 42 } }, other: secret }),
  });
  for (const f of ['bad.json', 'badauth.json', 'wrongtype.json']) {
    const r = createCredentialResolver({ homeDir: h, env: baseEnv(), authfile: join(h, f) });
    await assert.rejects(r.get('x.io'), (e: unknown) => {
      assert.ok(isOci2fsError(e, ErrorCode.AUTH), String(e));
      assert.ok(e.message.includes(join(h, f)), e.message);
      assert.ok(!e.message.includes(secret) && !e.message.includes(b64(secret)), e.message);
      return true;
    });
  }
});

test('--creds with an empty user is a usage error', () => {
  assert.throws(() => createCredentialResolver({ creds: ':pw', env: baseEnv(), homeDir: root }), (e: unknown) => isOci2fsError(e, ErrorCode.USAGE));
});
