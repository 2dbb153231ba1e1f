import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arch } from 'node:os';
import { formatPlatform, hostPlatform, normalizePlatform, parsePlatform, selectManifest } from './platform.js';
import type { Descriptor } from './descriptor.js';
import { isOci2fsError } from '../errors.js';

test('parse, normalise and format platforms', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.equal(formatPlatform(normalizePlatform(parsePlatform('linux/aarch64'))), 'linux/arm64/v8');
  assert.equal(formatPlatform(normalizePlatform(parsePlatform('Linux/x86_64'))), 'linux/amd64');
  assert.equal(formatPlatform(normalizePlatform(parsePlatform('linux/arm'))), 'linux/arm/v7');
  assert.equal(formatPlatform(normalizePlatform(parsePlatform('linux/arm/6'))), 'linux/arm/v6');
  assert.equal(formatPlatform(normalizePlatform(parsePlatform('linux/armhf'))), 'linux/arm/v7');
  assert.equal(formatPlatform(normalizePlatform(parsePlatform('linux/amd64/v1'))), 'linux/amd64');
  for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/amd 64']) {
    assert.throws(() => parsePlatform(bad), (e) => isOci2fsError(e, 'E_USAGE'), bad);
  }
});

test('hostPlatform maps the Node architecture', () => {
  const h = hostPlatform();
  assert.equal(h.os, process.platform === 'win32' ? 'windows' : 'linux');
  const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
  if (expected[arch()]) assert.equal(h.architecture, expected[arch()]);
  if (arch() === 'arm64') assert.equal(h.variant, 'v8');
});

const entry = (digest: string, platform?: Descriptor['platform'], annotations?: Record<string, string>): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:' + digest.repeat(64),
  size: 1,
  ...(platform ? { platform } : {}),
  ...(annotations ? { annotations } : {}),
});

test('selectManifest: exact, aliases, defaults, compatible variants', () => {
  const index = {
    manifests: [
      entry('a', { os: 'linux', architecture: 'amd64' }),
      entry('b', { os: 'linux', architecture: 'arm64' }),
      entry('c', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      entry('d', { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
      entry('e', { os: 'linux', architecture: 'amd64', variant: 'v3' }),
    ],
  };
  assert.equal(selectManifest(index, parsePlatform('linux/x86_64')).digest[7], 'a');
  assert.equal(selectManifest(index, parsePlatform('linux/aarch64/v8')).digest[7], 'b');
  assert.equal(selectManifest(index, parsePlatform('linux/arm/v7')).digest[7], 'c', 'v7 host runs v6');
  assert.equal(selectManifest(index, parsePlatform('linux/amd64/v3')).digest[7], 'e');
  assert.equal(selectManifest(index, parsePlatform('linux/amd64/v4')).digest[7], 'e', 'v4 host prefers v3 over v1');
  assert.throws(
    () => selectManifest(index, parsePlatform('linux/riscv64'), 'docker.io/library/x:1'),
    (e) => isOci2fsError(e, 'E_PLATFORM_NOT_FOUND') && e.message.includes('linux/amd64, linux/amd64/v3, linux/arm/v6, linux/arm64/v8') && e.message.includes('docker.io/library/x:1') && !e.message.includes('unknown'),
  );
  assert.throws(() => selectManifest(index, parsePlatform('linux/arm/v5')), (e) => isOci2fsError(e, 'E_PLATFORM_NOT_FOUND'), 'v5 cannot run v6');
});
