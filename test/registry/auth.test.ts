/**
 * RegistryClient authentication against a real docker-registry: htpasswd
 * Basic auth, and token auth through our token server (bearer flow, token
 * reuse, refresh after a 401, identity tokens); secrets never appear in
 * errors; redirects to another host never carry the Authorization header.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startRegistry } from '../harness/registry.js';
import type { TestRegistry } from '../harness/registry.js';
import { RegistryClient } from '../../src/registry/index.js';
import type { CredentialResolver, Credential } from '../../src/auth/index.js';
import { isOci2fsError } from '../../src/errors.js';
import type { ProgressEvent } from '../../src/events.js';
import { pushFixture, collect } from './fixture.js';
import type { Fixture } from './fixture.js';

let basic: TestRegistry;
let token: TestRegistry;
let fxBasic: Fixture;
let fxToken: Fixture;

before(async () => {
  [basic, token] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' })]);
  fxBasic = await pushFixture(basic);
  fxToken = await pushFixture(token);
});
after(async () => {
  await Promise.all([basic?.stop(), token?.stop(), fxBasic?.cleanup(), fxToken?.cleanup()]);
});
beforeEach(() => {
  for (const r of [basic, token]) {
    r.proxy.clearFaults();
    r.proxy.resetCounts();
  }
  token.tokenServer!.requests.length = 0;
});

const creds = (c: Credential | undefined): CredentialResolver => ({ get: async () => c });
function client(reg: TestRegistry, cred: Credential | undefined, events?: ProgressEvent[]): RegistryClient {
  return new RegistryClient({
    insecureRegistries: [reg.host],
    credentials: creds(cred),
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    events: events ? (e) => events.push(e) : undefined,
  });
}
const user = (reg: TestRegistry): { username: string; password: string } => {
  const [username, password] = Object.entries(reg.users)[0];
  return { username, password };
};
const IMG = (reg: TestRegistry): { registry: string; repository: string } => ({ registry: reg.host, repository: 'test/img' });
const sha256 = (b: Uint8Array): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('basic auth: good credentials pull; bad or missing ones give E_AUTH without the secret', async () => {
  const good = user(basic);
  const m = await client(basic, good).getManifest(IMG(basic), 'v1');
  assert.equal(m.digest, fxBasic.img.manifestDigest);
  const bad = { username: good.username, password: 'wrong-Pa55word-xyz' };
  const b64 = Buffer.from(`${bad.username}:${bad.password}`).toString('base64');
  await assert.rejects(client(basic, bad).getManifest(IMG(basic), 'v1'), (e) => {
    assert.ok(isOci2fsError(e, 'E_AUTH'), String(e));
    assert.ok(!e.message.includes(bad.password) && !e.message.includes(b64), e.message);
    assert.ok(!JSON.stringify(e).includes(bad.password));
    return true;
  });
  await assert.rejects(client(basic, undefined).getManifest(IMG(basic), 'v1'), (e) => isOci2fsError(e, 'E_AUTH') && /no credentials/.test(e.message));
});

test('token auth: one token request for manifest and blobs, scoped to the repository', async () => {
  const c = client(token, user(token));
  const m = await c.getManifest(IMG(token), 'v1');
  assert.equal(m.digest, fxToken.img.manifestDigest);
  const b = await c.openBlob(IMG(token), fxToken.img.layers[0].digest);
  assert.equal(sha256(await collect(b.body)), fxToken.img.layers[0].digest);
  const reqs = token.tokenServer!.requests;
  assert.equal(reqs.length, 1);
  assert.deepEqual(reqs[0].scopes, ['repository:test/img:pull']);
  assert.equal(reqs[0].account, user(token).username);
  // the first registry request was anonymous (to get the challenge), the rest carried the token
  assert.deepEqual(token.proxy.requests.map((r) => r.authorization), [false, true, true]);
});

test('token auth: a token the registry stops accepting is refreshed once', async () => {
  const c = client(token, user(token));
  await c.getManifest(IMG(token), 'v1');
  // the registry now refuses the cached token (as after a revocation)
  const ts = token.tokenServer!;
  token.proxy.addFault({
    path: '/v2/test/img/manifests/v1',
    nth: 1,
    fault: {
      kind: 'respond',
      status: 401,
      headers: { 'WWW-Authenticate': `Bearer realm="${ts.realm}",service="${ts.service}",scope="repository:test/img:pull"` },
    },
  });
  const m = await c.getManifest(IMG(token), 'v1');
  assert.equal(m.digest, fxToken.img.manifestDigest);
  assert.equal(ts.requests.length, 2);
});

test('token auth: a fresh token that is refused gives E_AUTH, not a loop', async () => {
  token.tokenServer!.expireNext(1);
  await assert.rejects(client(token, user(token)).getManifest(IMG(token), 'v1'), (e) => isOci2fsError(e, 'E_AUTH'));
  assert.equal(token.tokenServer!.requests.length, 1);
});

test('token auth: bad password and anonymous access give E_AUTH without secrets', async () => {
  const bad = { username: user(token).username, password: 'Nope-nope-123' };
  await assert.rejects(client(token, bad).getManifest(IMG(token), 'v1'), (e) => {
    assert.ok(isOci2fsError(e, 'E_AUTH'), String(e));
    assert.ok(!e.message.includes(bad.password), e.message);
    assert.match(e.message, /rejected the configured credentials/);
    return true;
  });
  await assert.rejects(client(token, undefined).getManifest(IMG(token), 'v1'), (e) => isOci2fsError(e, 'E_AUTH'));
});

test('token auth with an identity token uses the OAuth2 refresh_token grant', async () => {
  const idt = token.tokenServer!.identityToken(user(token).username);
  const m = await client(token, { identityToken: idt }).getManifest(IMG(token), 'v1');
  assert.equal(m.digest, fxToken.img.manifestDigest);
  const r = token.tokenServer!.requests;
  assert.equal(r.length, 1);
  assert.equal(r[0].method, 'POST');
  assert.equal(r[0].grantType, 'refresh_token');
});

test('a 307 to blob storage on another host is followed without the Authorization header', async () => {
  const layer = fxToken.img.layers[1];
  const path = `/v2/test/img/blobs/${layer.digest}`;
  token.proxy.addFault({ path, method: 'GET', fault: { kind: 'redirect', status: 307 } });
  const events: ProgressEvent[] = [];
  const c = client(token, user(token), events);
  await c.getManifest(IMG(token), 'v1'); // caches the token, so every blob request carries it
  const whole = await c.openBlob(IMG(token), layer.digest);
  assert.equal(sha256(await collect(whole.body)), layer.digest);
  const part = await c.openBlob(IMG(token), layer.digest, 4096);
  assert.equal(part.start, 4096);
  assert.deepEqual(await collect(part.body), (await fxToken.blob(layer.digest)).subarray(4096));
  const hops = token.proxy.blobServer.requests;
  assert.equal(hops.length, 2);
  assert.ok(hops.every((h) => !h.authorization), 'Authorization leaked to the redirect target');
  assert.equal(hops[1].range, 'bytes=4096-');
  assert.ok(token.proxy.requests.filter((r) => r.path === path).every((r) => r.authorization), 'the registry itself got the token');
  // nothing we emit carries the signed query string
  assert.ok(!JSON.stringify(events).includes('X-Test-Signature'));
});

test('token auth: concurrent requests share one token request', async () => {
  const c = client(token, user(token));
  const layers = [...fxToken.img.layers, ...fxToken.img.layers];
  const bodies = await Promise.all(layers.map(async (l) => sha256(await collect((await c.openBlob(IMG(token), l.digest)).body))));
  assert.deepEqual(bodies, layers.map((l) => l.digest));
  assert.equal(token.tokenServer!.requests.length, 1);
});
