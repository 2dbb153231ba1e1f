import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseManifestDocument, MANIFEST_MAX_BYTES } from './manifest.js';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, OCI_CONFIG, OCI_LAYER_TAR_ZSTD, DOCKER_SCHEMA1_SIGNED_MANIFEST } from './media-types.js';
import { isOci2fsError } from '../errors.js';

const d = (s: string): string => 'sha256:' + createHash('sha256').update(s).digest('hex');
const enc = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));
const desc = (mediaType: string, name: string, size = 10): Record<string, unknown> => ({ mediaType, digest: d(name), size });

const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: desc(OCI_CONFIG, 'c'), layers: [desc(OCI_LAYER_TAR_ZSTD, 'l1', 123)] };

test('OCI manifest parses with its descriptors', () => {
  const r = parseManifestDocument(enc(manifest));
  assert.equal(r.kind, 'manifest');
  if (r.kind !== 'manifest') return;
  assert.equal(r.manifest.mediaType, OCI_MANIFEST);
  assert.equal(r.manifest.config.digest, d('c'));
  assert.deepEqual(r.manifest.layers, [{ mediaType: OCI_LAYER_TAR_ZSTD, digest: d('l1'), size: 123 }]);
});

test('mediaType may be absent: taken from the header, else the shape', () => {
  const { mediaType: _m, ...bare } = manifest;
  const a = parseManifestDocument(enc(bare), `${DOCKER_MANIFEST}; charset=utf-8`);
  assert.ok(a.kind === 'manifest' && a.manifest.mediaType === DOCKER_MANIFEST);
  const b = parseManifestDocument(enc(bare));
  assert.ok(b.kind === 'manifest' && b.manifest.mediaType === OCI_MANIFEST);
  const c = parseManifestDocument(enc({ schemaVersion: 2, manifests: [] }), 'application/json');
  assert.ok(c.kind === 'index' && c.index.mediaType === OCI_INDEX);
});

test('indexes: platforms read; Docker lists need a platform per entry', () => {
  const idx = {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST_LIST,
    manifests: [{ ...desc(DOCKER_MANIFEST, 'a'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8', 'os.features': ['x'] } }],
  };
  const r = parseManifestDocument(enc(idx));
  assert.ok(r.kind === 'index');
  if (r.kind !== 'index') return;
  assert.deepEqual(r.index.manifests[0].platform, { os: 'linux', architecture: 'arm64', variant: 'v8', osFeatures: ['x'] });
  const noPlat = { ...idx, manifests: [desc(DOCKER_MANIFEST, 'a')] };
  assert.throws(() => parseManifestDocument(enc(noPlat)), (e) => isOci2fsError(e, 'E_MANIFEST_INVALID') && /no platform/.test(e.message));
});

test('schema 1 is E_UNSUPPORTED, by document or by header', () => {
  const s1 = { schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] };
  assert.throws(() => parseManifestDocument(enc(s1)), (e) => isOci2fsError(e, 'E_UNSUPPORTED'));
  assert.throws(() => parseManifestDocument(enc(manifest), DOCKER_SCHEMA1_SIGNED_MANIFEST), (e) => isOci2fsError(e, 'E_UNSUPPORTED'));
});

test('malformed documents are E_MANIFEST_INVALID with a useful message', () => {
  const bad: [unknown, RegExp][] = [
    [{ ...manifest, mediaType: 'application/vnd.example+json' }, /unknown mediaType/],
    [{ ...manifest, schemaVersion: 3 }, /schemaVersion/],
    [{ ...manifest, layers: [{ ...desc(OCI_LAYER_TAR_ZSTD, 'l'), digest: 'sha256:abc' }] }, /layers\[0\].*64/],
    [{ ...manifest, layers: [{ ...desc(OCI_LAYER_TAR_ZSTD, 'l'), size: -1 }] }, /size/],
    [{ ...manifest, layers: [{ ...desc(OCI_LAYER_TAR_ZSTD, 'l'), size: 1.5 }] }, /size/],
    [{ ...manifest, config: { ...desc(OCI_CONFIG, 'c'), mediaType: 'not a type' } }, /mediaType/],
    [{ ...manifest, annotations: { a: 1 } }, /annotations/],
    [{ schemaVersion: 2 }, /cannot tell/],
    [[1, 2], /JSON object/],
  ];
  for (const [doc, re] of bad) {
    assert.throws(() => parseManifestDocument(enc(doc)), (e) => isOci2fsError(e, 'E_MANIFEST_INVALID') && re.test(e.message), JSON.stringify(doc));
  }
  assert.throws(() => parseManifestDocument(Buffer.from('{nope')), (e) => isOci2fsError(e, 'E_MANIFEST_INVALID'));
  assert.throws(() => parseManifestDocument(enc(manifest), OCI_INDEX), /served as/);
});

test('digest algorithms: sha512 accepted, unknown ones unsupported', () => {
  const sha512 = 'sha512:' + 'a'.repeat(128);
  const ok = { ...manifest, layers: [{ mediaType: OCI_LAYER_TAR_ZSTD, digest: sha512, size: 1 }] };
  assert.equal(parseManifestDocument(enc(ok)).kind, 'manifest');
  const md5 = { ...manifest, layers: [{ mediaType: OCI_LAYER_TAR_ZSTD, digest: 'md5:' + 'a'.repeat(32), size: 1 }] };
  assert.throws(() => parseManifestDocument(enc(md5)), (e) => isOci2fsError(e, 'E_UNSUPPORTED'));
});

test('documents over 4 MiB are refused with E_LIMIT', () => {
  assert.equal(MANIFEST_MAX_BYTES, 4 * 1024 * 1024);
  const big = Buffer.alloc(MANIFEST_MAX_BYTES + 1, 0x20);
  assert.throws(() => parseManifestDocument(big), (e) => isOci2fsError(e, 'E_LIMIT'));
});
