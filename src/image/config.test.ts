import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageConfig } from './config.js';
import { sha256Digest, verifyDigest, parseDigest } from './digest.js';
import { layerCompression, DOCKER_LAYER_FOREIGN_TAR_GZIP, OCI_LAYER_TAR } from './media-types.js';
import { isOci2fsError } from '../errors.js';

const diff = sha256Digest(Buffer.from('layer'));
const enc = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));

test('image config: the fields we use', () => {
  const c = parseImageConfig(
    enc({
      architecture: 'arm',
      os: 'linux',
      variant: 'v7',
      created: '2020-01-01T00:00:00Z',
      config: { Env: ['A=1'], Entrypoint: ['/init'], Cmd: null, WorkingDir: '/srv', User: '1000:1000', Labels: { a: 'b' }, Volumes: { '/b': {}, '/a': {} } },
      rootfs: { type: 'layers', diff_ids: [diff] },
      history: [{ created_by: 'RUN x' }, { empty_layer: true }],
    }),
  );
  assert.equal(c.architecture, 'arm');
  assert.equal(c.variant, 'v7');
  assert.deepEqual(c.config, { Env: ['A=1'], Entrypoint: ['/init'], WorkingDir: '/srv', User: '1000:1000', Labels: { a: 'b' }, Volumes: ['/a', '/b'] });
  assert.deepEqual(c.diffIds, [diff]);
  assert.deepEqual(c.history, [{ createdBy: 'RUN x', emptyLayer: false }, { emptyLayer: true }]);
});

test('image config: missing or malformed fields are E_MANIFEST_INVALID', () => {
  const base = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diff] } };
  const bad: [unknown, RegExp][] = [
    [{ ...base, os: undefined }, /os/],
    [{ ...base, architecture: 5 }, /architecture/],
    [{ ...base, rootfs: { type: 'layers', diff_ids: ['sha256:xyz'] } }, /diff_ids\[0\]/],
    [{ ...base, rootfs: { type: 'other', diff_ids: [] } }, /rootfs.type/],
    [{ ...base, config: { Env: 'A=1' } }, /Env/],
    [{ ...base, config: { Labels: { a: 1 } } }, /Labels/],
  ];
  for (const [doc, re] of bad) {
    assert.throws(() => parseImageConfig(enc(doc)), (e) => isOci2fsError(e, 'E_MANIFEST_INVALID') && re.test(e.message), JSON.stringify(doc));
  }
});

test('digests: sha256 of known input, verification, parse errors', () => {
  // sha256("abc") from FIPS 180-2 appendix B.1
  assert.equal(sha256Digest(Buffer.from('abc')), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  verifyDigest(Buffer.from('abc'), 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'x');
  assert.throws(() => verifyDigest(Buffer.from('abd'), sha256Digest(Buffer.from('abc')), 'blob x'), (e) => isOci2fsError(e, 'E_DIGEST_MISMATCH') && /blob x/.test(e.message));
  assert.throws(() => parseDigest('sha256:ABC' + '0'.repeat(61)), (e) => isOci2fsError(e, 'E_MANIFEST_INVALID'));
  assert.throws(() => parseDigest('nocolon'), (e) => isOci2fsError(e, 'E_MANIFEST_INVALID'));
});

test('layer compression by media type', () => {
  assert.equal(layerCompression('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  assert.equal(layerCompression(DOCKER_LAYER_FOREIGN_TAR_GZIP), 'gzip');
  assert.equal(layerCompression(OCI_LAYER_TAR), 'none');
  assert.equal(layerCompression('application/vnd.in-toto+json'), undefined);
});
