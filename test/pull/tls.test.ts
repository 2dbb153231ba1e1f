/**
 * A registry with a self-signed certificate: refused by default (with a hint),
 * pulled with --insecure-registry (HTTPS, certificate not verified) or with
 * its CA trusted through NODE_EXTRA_CA_CERTS. The image is pushed by skopeo
 * and the pulled store is read back by skopeo: independent on both ends.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type BuiltImage } from '../harness/image-builder.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { runCli } from './cli.js';

let reg: TestRegistry;
let work: string;
let img: BuiltImage;

before(async () => {
  reg = await startRegistry({ tls: true });
  work = await mkdtemp(join(tmpdir(), 'oci2fs-tls-'));
  const layout = join(work, 'layout');
  img = await buildImage({ layers: [{ files: { 'etc/hostname': 'tls\n' } }, { files: { 'bin/x': 'y'.repeat(9000) }, compression: 'zstd' }] }, layout);
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}`, `docker://${reg.host}/tls/img:v1`]);
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a self-signed registry is refused without --insecure-registry, with a hint naming the fixes', async () => {
  const store = await mkdtemp(join(work, 'store-'));
  const r = await runCli(['pull', '--store', store, `${reg.host}/tls/img:v1`]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /E_NETWORK/);
  assert.match(r.stderr, /certificate could not be verified.*NODE_EXTRA_CA_CERTS/);
});

test('--insecure-registry pulls over HTTPS without verifying the certificate (not plain HTTP)', async () => {
  const store = await mkdtemp(join(work, 'store-'));
  const r = await runCli(['pull', '--store', store, '--insecure-registry', reg.host, `${reg.host}/tls/img:v1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), img.manifestDigest);
  // The registry serves only HTTPS: a plain-HTTP fallback could not have fetched anything.
  const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${store}:${reg.host}/tls/img:v1`]);
  assert.equal(`sha256:${execFileSync('sha256sum', { input: raw }).toString().split(' ')[0]}`, img.manifestDigest);
  assert.equal((await runCli(['verify', '--store', store])).code, 0);
});

test('NODE_EXTRA_CA_CERTS trusting the certificate pulls with verification on', async () => {
  const store = await mkdtemp(join(work, 'store-'));
  const r = await runCli(['pull', '--store', store, `${reg.host}/tls/img:v1`], { NODE_EXTRA_CA_CERTS: reg.certPath });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), img.manifestDigest);
});
