import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetrc, hostWithoutPort } from './netrc.js';
import { normalizeAuthKey, lookupKeys } from './authfile.js';

test('netrc: entries over several lines, quotes, comments, macdef, default dropped', () => {
  const text = [
    '# NVIDIA GPU Cloud',
    'machine nvcr.io login $oauthtoken password abc123',
    'machine authn.nvidia.com',
    '  login $oauthtoken',
    '  password "with \\"quotes\\" and space"',
    'macdef init',
    'machine should.not.appear login x password y',
    '',
    'machine a.example.com login u # trailing comment',
    'password p account acct',
    'default login anon password anon',
  ].join('\n');
  assert.deepEqual(parseNetrc(text), [
    { machine: 'nvcr.io', login: '$oauthtoken', password: 'abc123' },
    { machine: 'authn.nvidia.com', login: '$oauthtoken', password: 'with "quotes" and space' },
    { machine: 'a.example.com', login: 'u', password: 'p' },
  ]);
});

test('hostWithoutPort', () => {
  assert.equal(hostWithoutPort('localhost:5000'), 'localhost');
  assert.equal(hostWithoutPort('nvcr.io'), 'nvcr.io');
  assert.equal(hostWithoutPort('[::1]:5000'), '[::1]');
});

test('auth.json keys: legacy URLs keep the host, Docker Hub aliases are one', () => {
  assert.equal(normalizeAuthKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeAuthKey('http://reg.example.com:5000/v2/'), 'reg.example.com:5000');
  assert.equal(normalizeAuthKey('registry-1.docker.io'), 'docker.io');
  assert.equal(normalizeAuthKey('quay.io/org/'), 'quay.io/org');
  assert.deepEqual(lookupKeys('registry-1.docker.io', 'library/alpine'), ['docker.io/library/alpine', 'docker.io/library', 'docker.io']);
});

test('netrc: enroot one-line $… passwords keep the rest of the line as a command', () => {
  const text = [
    'machine ecr.example.com login AWS password $(aws ecr get-login-password --region eu-west-2)',
    'machine plain.example.com login u password p',
    '  machine  env.example.com   login  me  password  $TOKEN  ',
  ].join('\n');
  assert.deepEqual(parseNetrc(text), [
    { machine: 'ecr.example.com', login: 'AWS', passwordCommand: '$(aws ecr get-login-password --region eu-west-2)' },
    { machine: 'plain.example.com', login: 'u', password: 'p' },
    { machine: 'env.example.com', login: 'me', passwordCommand: '$TOKEN' },
  ]);
});
