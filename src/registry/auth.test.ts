import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthSession } from './auth.js';
import type { AuthTarget, Fetcher } from './auth.js';
import { isOci2fsError } from '../errors.js';

const target = (insecure = false): AuthTarget => ({ apiHost: 'r.example', credHost: 'r.example', repository: 'a/b', scope: 'repository:a/b:pull', insecure });
const creds = { get: async () => ({ username: 'u', password: 'pw-secret' }) };

function fakeFetcher(body: unknown, status = 200): { fetcher: Fetcher; calls: { url: string; init: RequestInit }[] } {
  const calls: { url: string; init: RequestInit }[] = [];
  return {
    calls,
    fetcher: async (url, init) => {
      calls.push({ url, init });
      return new Response(JSON.stringify(body), { status });
    },
  };
}

test('bearer: token fetched with Basic credentials and scope, cached until it expires', async () => {
  const f = fakeFetcher({ token: 'tok1', expires_in: 1 });
  const s = new AuthSession(creds, f.fetcher);
  assert.equal(await s.answerChallenge(target(), 'Bearer realm="https://auth.example/token",service="svc"', undefined), true);
  assert.equal(s.authorization(target()), 'Bearer tok1');
  const u = new URL(f.calls[0].url);
  assert.equal(u.searchParams.get('service'), 'svc');
  assert.equal(u.searchParams.get('scope'), 'repository:a/b:pull');
  assert.ok(!f.calls[0].url.includes('pw-secret'));
  assert.equal((f.calls[0].init.headers as Record<string, string>).Authorization, 'Basic ' + Buffer.from('u:pw-secret').toString('base64'));
  // 1 s lifetime minus a half-lifetime margin: gone after 0.6 s
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(s.authorization(target()), undefined);
});

test('bearer: credentials never go to a plain-HTTP realm of a secure registry', async () => {
  const f = fakeFetcher({ token: 't' });
  const s = new AuthSession(creds, f.fetcher);
  await assert.rejects(s.answerChallenge(target(), 'Bearer realm="http://auth.example/token"', undefined), (e) => isOci2fsError(e, 'E_AUTH') && !e.message.includes('pw-secret'));
  assert.equal(f.calls.length, 0);
  assert.equal(await s.answerChallenge(target(true), 'Bearer realm="http://auth.example/token"', undefined), true);
});

test('bearer: identity tokens use the refresh_token grant in a POST body', async () => {
  const f = fakeFetcher({ access_token: 'at' });
  const s = new AuthSession({ get: async () => ({ identityToken: 'idt-123' }) }, f.fetcher);
  await s.answerChallenge(target(), 'Bearer realm="https://auth.example/token",service="svc"', undefined);
  assert.equal(s.authorization(target()), 'Bearer at');
  assert.equal(f.calls[0].init.method, 'POST');
  assert.ok(!f.calls[0].url.includes('idt-123'));
  const form = new URLSearchParams(String(f.calls[0].init.body));
  assert.equal(form.get('grant_type'), 'refresh_token');
  assert.equal(form.get('refresh_token'), 'idt-123');
  assert.equal(form.get('client_id'), 'oci2fs');
});

test('token service failures: 401 → E_AUTH, no token → E_REGISTRY', async () => {
  await assert.rejects(new AuthSession(creds, fakeFetcher({}, 401).fetcher).answerChallenge(target(), 'Bearer realm="https://a/t"', undefined), (e) => isOci2fsError(e, 'E_AUTH'));
  await assert.rejects(new AuthSession(creds, fakeFetcher({ nope: 1 }).fetcher).answerChallenge(target(), 'Bearer realm="https://a/t"', undefined), (e) => isOci2fsError(e, 'E_REGISTRY'));
});

test('basic: armed once with username/password; not with identity tokens or nothing', async () => {
  const s = new AuthSession(creds, fakeFetcher({}).fetcher);
  assert.equal(await s.answerChallenge(target(), 'Basic realm="x"', undefined), true);
  const header = s.authorization(target());
  assert.equal(header, 'Basic ' + Buffer.from('u:pw-secret').toString('base64'));
  assert.equal(await s.answerChallenge(target(), 'Basic realm="x"', header), false, 'the same credentials again cannot help');
  assert.equal(await new AuthSession({ get: async () => ({ identityToken: 'x' }) }, fakeFetcher({}).fetcher).answerChallenge(target(), 'Basic realm="x"', undefined), false);
  assert.equal(await new AuthSession(undefined, fakeFetcher({}).fetcher).answerChallenge(target(), 'Basic realm="x"', undefined), false);
  assert.equal(await new AuthSession(creds, fakeFetcher({}).fetcher).answerChallenge(target(), 'Negotiate abc', undefined), false);
});
