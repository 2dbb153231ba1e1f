import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWwwAuthenticate, scopeFor } from './challenge.js';

test('Docker Hub style Bearer challenge', () => {
  const h = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"';
  assert.deepEqual(parseWwwAuthenticate(h), [
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
    },
  ]);
});

test('RFC 7235 section 4.1 example: two challenges, escaped quotes, comma in value', () => {
  const h = 'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple, really"';
  assert.deepEqual(parseWwwAuthenticate(h), [
    { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
    { scheme: 'basic', params: { realm: 'simple, really' } },
  ]);
});

test('scheme and parameter names are case-insensitive, values are kept', () => {
  assert.deepEqual(parseWwwAuthenticate('BASIC Realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
});

test('scope with several repositories separated by spaces inside quotes', () => {
  const h = 'Bearer realm="https://r/t",scope="repository:a/b:pull repository:c/d:pull,push",error="insufficient_scope"';
  const [c] = parseWwwAuthenticate(h);
  assert.equal(c.params.scope, 'repository:a/b:pull repository:c/d:pull,push');
  assert.equal(c.params.error, 'insufficient_scope');
});

test('token68 challenges and bare schemes', () => {
  assert.deepEqual(parseWwwAuthenticate('Negotiate abc+/def==, Basic'), [
    { scheme: 'negotiate', params: {}, token68: 'abc+/def==' },
    { scheme: 'basic', params: {} },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Basic, Bearer realm=x'), [
    { scheme: 'basic', params: {} },
    { scheme: 'bearer', params: { realm: 'x' } },
  ]);
});

test('whitespace around = and empty list elements are tolerated', () => {
  assert.deepEqual(parseWwwAuthenticate(' , Bearer  realm = "r" ,, service= s ,'), [{ scheme: 'bearer', params: { realm: 'r', service: 's' } }]);
});

test('empty or garbage headers give no throw', () => {
  assert.deepEqual(parseWwwAuthenticate(''), []);
  assert.doesNotThrow(() => parseWwwAuthenticate('Bearer realm="unterminated'));
  assert.equal(parseWwwAuthenticate('Bearer realm="unterminated')[0].params.realm, 'unterminated');
  assert.doesNotThrow(() => parseWwwAuthenticate('"""=,,=='));
});

test('scopeFor', () => {
  assert.equal(scopeFor('library/alpine'), 'repository:library/alpine:pull');
  assert.equal(scopeFor('a/b', ['pull', 'push']), 'repository:a/b:pull,push');
});
