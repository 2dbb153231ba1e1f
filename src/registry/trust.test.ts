import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adoptDeferredCaCerts, DEFERRED_CA_ENV, verifiedTlsOptions } from './trust.js';

test('adoptDeferredCaCerts: node loaded NODE_EXTRA_CA_CERTS itself, so nothing is deferred and the hand-over variable goes', () => {
  const env: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/a.pem', [DEFERRED_CA_ENV]: '/b.pem' };
  adoptDeferredCaCerts(env);
  assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/a.pem' });
  assert.deepEqual(verifiedTlsOptions(), {}, 'node default trust');
});

test('adoptDeferredCaCerts: a deferred file is put back for child processes and trusted by verified connections', () => {
  const env: NodeJS.ProcessEnv = { [DEFERRED_CA_ENV]: '/nonexistent/ca.pem' };
  adoptDeferredCaCerts(env);
  assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' });
  const first = verifiedTlsOptions();
  assert.ok(first.secureContext, 'a context of its own (node roots + the file; an unreadable file adds nothing, as in node)');
  assert.equal(verifiedTlsOptions().secureContext, first.secureContext, 'built once');
});
