import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecrets, secretsOf, REDACTED } from './redact.js';

test('redactSecrets removes every occurrence, longest first', () => {
  assert.equal(redactSecrets('a hunter2 b hunter2', ['hunter2']), `a ${REDACTED} b ${REDACTED}`);
  assert.equal(redactSecrets('token=abcdef', ['abc', 'abcdef']), `token=${REDACTED}`);
  assert.equal(redactSecrets('nothing here', ['', undefined]), 'nothing here');
});

test('secretsOf includes the Basic form', () => {
  const s = secretsOf({ username: 'u', password: 'p4ss' });
  assert.ok(s.includes('p4ss'));
  assert.ok(s.includes(Buffer.from('u:p4ss').toString('base64')));
  assert.deepEqual(secretsOf({ identityToken: 'tok' }), ['tok']);
  assert.deepEqual(secretsOf(undefined), []);
});
