import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { parseReference, formatReference, enrootUri } from './parse.js';
import { enrootFileName, registryApiHost } from './enroot.js';
import type { ImageReference } from './types.js';
import { isOci2fsError, ErrorCode } from '../errors.js';

const D64 = 'a'.repeat(64);
const D64b = '0123456789abcdef'.repeat(4);
const D128 = 'b'.repeat(128);
const hub = (repository: string, extra: Partial<Record<'tag' | 'digest' | 'user', string>> = {}): ImageReference => ({
  transport: 'docker',
  registry: 'docker.io',
  repository,
  ...extra,
});
const reg = (registry: string, repository: string, extra: Partial<Record<'tag' | 'digest' | 'user', string>> = {}): ImageReference => ({
  transport: 'docker',
  registry,
  repository,
  ...extra,
});

/** [input, expected parse] — expected values written by hand from the grammar, not from the code. */
const VALID: [string, ImageReference][] = [
  // plain Docker references
  ['alpine', hub('library/alpine', { tag: 'latest' })],
  ['alpine:3.20', hub('library/alpine', { tag: '3.20' })],
  ['docker.io/library/alpine', hub('library/alpine', { tag: 'latest' })],
  ['docker.io/alpine', hub('library/alpine', { tag: 'latest' })],
  ['index.docker.io/library/alpine:edge', hub('library/alpine', { tag: 'edge' })],
  ['index.docker.io/bitnami/redis', hub('bitnami/redis', { tag: 'latest' })],
  ['bitnami/redis:7.2', hub('bitnami/redis', { tag: '7.2' })],
  ['ghcr.io/org/img:tag', reg('ghcr.io', 'org/img', { tag: 'tag' })],
  ['ghcr.io/org/sub/img', reg('ghcr.io', 'org/sub/img', { tag: 'latest' })],
  [`localhost:5000/x/y@sha256:${D64}`, reg('localhost:5000', 'x/y', { digest: `sha256:${D64}` })],
  ['localhost/x', reg('localhost', 'x', { tag: 'latest' })],
  ['localhost:5000/x:v1', reg('localhost:5000', 'x', { tag: 'v1' })],
  ['localhost:5000', hub('library/localhost', { tag: '5000' })],
  [`alpine:3.20@sha256:${D64b}`, hub('library/alpine', { tag: '3.20', digest: `sha256:${D64b}` })],
  [`alpine@sha256:${D64}`, hub('library/alpine', { digest: `sha256:${D64}` })],
  [`quay.io/a/b@sha512:${D128}`, reg('quay.io', 'a/b', { digest: `sha512:${D128}` })],
  ['nvcr.io/nvidia/pytorch:25.06-py3', reg('nvcr.io', 'nvidia/pytorch', { tag: '25.06-py3' })],
  ['127.0.0.1:5000/test', reg('127.0.0.1:5000', 'test', { tag: 'latest' })],
  ['[::1]:5000/x', reg('[::1]:5000', 'x', { tag: 'latest' })],
  ['my-registry.example.com:8443/team/app:1.0.0-rc.1', reg('my-registry.example.com:8443', 'team/app', { tag: '1.0.0-rc.1' })],
  ['a__b/c.d_e/f--g', hub('a__b/c.d_e/f--g', { tag: 'latest' })],
  ['foo_bar:_tag', hub('library/foo_bar', { tag: '_tag' })],
  [`x:${'t'.repeat(128)}`, hub('library/x', { tag: 't'.repeat(128) })],
  ['Example.com/x', reg('Example.com', 'x', { tag: 'latest' })],
  ['registry-1.docker.io/library/busybox', hub('library/busybox', { tag: 'latest' })],
  // docker:// (skopeo form: the same as plain)
  ['docker://alpine', hub('library/alpine', { tag: 'latest' })],
  ['docker://docker.io/library/alpine:latest', hub('library/alpine', { tag: 'latest' })],
  ['docker://ghcr.io/org/img:tag', reg('ghcr.io', 'org/img', { tag: 'tag' })],
  [`docker://alpine@sha256:${D64}`, hub('library/alpine', { digest: `sha256:${D64}` })],
  ['docker://nvidia/cuda:12.4.1-base', hub('nvidia/cuda', { tag: '12.4.1-base' })],
  // enroot form
  ['docker://nvcr.io#nvidia/pytorch:25.06-py3', reg('nvcr.io', 'nvidia/pytorch', { tag: '25.06-py3' })],
  ['docker://registry-1.docker.io#library/busybox:latest', hub('library/busybox', { tag: 'latest' })],
  ['docker://registry-1.docker.io#busybox', hub('library/busybox', { tag: 'latest' })],
  ['docker://docker.io#bitnami/redis', hub('bitnami/redis', { tag: 'latest' })],
  ['docker://me@nvcr.io#nvidia/cuda:12.4', reg('nvcr.io', 'nvidia/cuda', { tag: '12.4', user: 'me' })],
  ['docker://$oauthtoken@nvcr.io#nvidia/cuda', reg('nvcr.io', 'nvidia/cuda', { tag: 'latest', user: '$oauthtoken' })],
  ['docker://a@b.com@nvcr.io#x/y', reg('nvcr.io', 'x/y', { tag: 'latest', user: 'a@b.com' })],
  [`docker://nvcr.io#nvidia/pytorch@sha256:${D64}`, reg('nvcr.io', 'nvidia/pytorch', { digest: `sha256:${D64}` })],
  [`docker://nvcr.io#nvidia/pytorch:25.06-py3@sha256:${D64}`, reg('nvcr.io', 'nvidia/pytorch', { tag: '25.06-py3', digest: `sha256:${D64}` })],
  ['docker://localhost:5000#x/y:1', reg('localhost:5000', 'x/y', { tag: '1' })],
  ['docker://user@ubuntu:22.04', hub('library/ubuntu', { tag: '22.04', user: 'user' })],
  ['docker://user@nvcr.io/nvidia/cuda', reg('nvcr.io', 'nvidia/cuda', { tag: 'latest', user: 'user' })],
  [`docker://user@alpine@sha256:${D64}`, hub('library/alpine', { digest: `sha256:${D64}`, user: 'user' })],
  // local transports
  ['oci:/tmp/layout', { transport: 'oci', path: '/tmp/layout' }],
  ['oci:/tmp/layout:v1', { transport: 'oci', path: '/tmp/layout', ref: 'v1' }],
  ['oci:/tmp/lay:out:v1.0', { transport: 'oci', path: '/tmp/lay:out', ref: 'v1.0' }],
  ['oci:/mnt/c:/images/x', { transport: 'oci', path: '/mnt/c:/images/x' }],
  ['oci:/tmp/layout:', { transport: 'oci', path: '/tmp/layout' }],
  ['oci:rel/dir:latest', { transport: 'oci', path: resolve('rel/dir'), ref: 'latest' }],
  ['oci:/a/../b/./c/', { transport: 'oci', path: '/b/c' }],
  ['oci-archive:/x/img.tar', { transport: 'oci-archive', path: '/x/img.tar' }],
  ['oci-archive:/x/img.tar:stable', { transport: 'oci-archive', path: '/x/img.tar', ref: 'stable' }],
  ['docker-archive:/x/a.tar', { transport: 'docker-archive', path: '/x/a.tar' }],
  ['docker-archive:/x/a.tar:alpine:latest', { transport: 'docker-archive', path: '/x/a.tar', ref: 'alpine:latest' }],
  ['docker-archive:/x/a.tar:docker.io/library/alpine:3', { transport: 'docker-archive', path: '/x/a.tar', ref: 'docker.io/library/alpine:3' }],
  ['docker-archive:/x/a.tar:@1', { transport: 'docker-archive', path: '/x/a.tar', ref: '@1' }],
  ['dir:/srv/root', { transport: 'dir', path: '/srv/root' }],
  ['dir:/srv/with:colon', { transport: 'dir', path: '/srv/with:colon' }],
  ['dir:/srv/with space', { transport: 'dir', path: '/srv/with space' }],
  ['oci:/My Images/x:v1', { transport: 'oci', path: '/My Images/x', ref: 'v1' }],
  ['oci:/My Images/x:bad ref', { transport: 'oci', path: '/My Images/x:bad ref' }],
  ['dir:relative', { transport: 'dir', path: resolve('relative') }],
  ['dumpfile:/x/image.dump', { transport: 'dumpfile', path: '/x/image.dump' }],
];

/** [input, a fragment the message must contain] */
const INVALID: [string, string][] = [
  ['', 'empty'],
  [' alpine', 'space'],
  ['alp ine', 'space'],
  ['alpine\n', 'U+000a'],
  ['Alpine', 'lowercase'],
  ['docker.io/Library/alpine', 'lowercase'],
  ['ghcr.io/Org/img', 'lowercase'],
  ['alpine:', 'tag'],
  ['alpine:-x', 'tag'],
  ['alpine:.x', 'tag'],
  [`alpine:${'t'.repeat(129)}`, 'tag'],
  ['alpine:a/b', 'invalid'],
  ['alpine@', 'digest'],
  ['alpine@sha256:abc', 'needs 64'],
  [`alpine@sha256:${'A'.repeat(64)}`, 'lowercase hexadecimal'],
  [`alpine@md5:${'a'.repeat(32)}`, 'not supported'],
  [`alpine@${D64}`, 'algorithm'],
  [`alpine@sha512:${D64}`, 'needs 128'],
  ['a/../b', '".."'],
  ['a/./b', '"."'],
  ['a//b', 'empty path component'],
  ['a/b/', 'empty path component'],
  ['ghcr.io/', 'empty'],
  ['-alpine', 'invalid'],
  ['alpine-', 'invalid'],
  ['a___b', 'invalid'],
  ['a..b', 'invalid'],
  [':tag', 'empty'],
  [D64, 'image ID'],
  [`ghcr.io/${'a'.repeat(250)}`, 'limit is 255'],
  ['bad_host.com:5000/x', 'not a valid host'],
  ['host:port/x', 'not a valid host'],
  ['nvcr.io#nvidia/pytorch', 'enroot form'],
  ['docker:alpine', 'docker://'],
  ['docker://', 'empty'],
  ['docker://#x', 'registry before "#" is empty'],
  ['docker://nvcr.io#', 'image name after "#" is empty'],
  ['docker://a#b#c', 'more than one "#"'],
  ['docker://@nvcr.io#x', 'user name before "@" is empty'],
  ['docker://nvcr.io#Nvidia/x', 'lowercase'],
  ['docker://nvcr.io#nvidia/x:bad tag', 'space'],
  ['docker://a/b@c@x', 'invalid'],
  ['oci:', 'path is empty'],
  ['oci::v1', 'path is empty'],
  ['dir:', 'path is empty'],
  ['dumpfile:', 'path is empty'],
  ['dir:/a\nb', 'U+000a'],
  ['docker://alpine latest', 'space'],
  ['docker-daemon:alpine:latest', 'not supported'],
  ['containers-storage:alpine', 'not supported'],
  ['https://ghcr.io/x/y', 'not a known transport'],
];

test(`reference table has at least 70 cases (${VALID.length + INVALID.length})`, () => {
  assert.ok(VALID.length + INVALID.length >= 70);
});

for (const [input, want] of VALID) {
  test(`parse ${JSON.stringify(input)}`, () => {
    assert.deepEqual(parseReference(input), want);
  });
}

for (const [input, fragment] of INVALID) {
  test(`reject ${JSON.stringify(input.length > 60 ? input.slice(0, 60) + '…' : input)}`, () => {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => {
        assert.ok(isOci2fsError(e, ErrorCode.REFERENCE_INVALID), `wrong error: ${String(e)}`);
        assert.ok(e.message.includes(JSON.stringify(input).slice(1, -1)) || input.includes('\n'), `message does not name the input: ${e.message}`);
        assert.ok(e.message.includes(fragment), `message "${e.message}" lacks "${fragment}"`);
        return true;
      },
    );
  });
}

test('formatReference gives the canonical spelling', () => {
  const cases: [string, string][] = [
    ['alpine', 'docker://docker.io/library/alpine:latest'],
    ['index.docker.io/bitnami/redis:7', 'docker://docker.io/bitnami/redis:7'],
    [`alpine:3@sha256:${D64}`, `docker://docker.io/library/alpine:3@sha256:${D64}`],
    ['docker://me@nvcr.io#nvidia/cuda:12', 'docker://nvcr.io/nvidia/cuda:12'],
    ['oci:/abs/dir:ref', 'oci:/abs/dir:ref'],
    ['oci:/abs/dir', 'oci:/abs/dir'],
    ['oci:/abs/a:b:', 'oci:/abs/a:b:'],
    ['oci:/abs/a:b/c', 'oci:/abs/a:b/c'],
    ['dir:/abs/', 'dir:/abs'],
    ['docker-archive:/x/a:b.tar:', 'docker-archive:/x/a:b.tar:'],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want, input);
});

test('a password in the enroot user part is refused without echoing it', () => {
  for (const input of ['docker://me:hunter2@nvcr.io#x/y', 'docker://me:hunter2@nvcr.io/x/y']) {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => isOci2fsError(e, ErrorCode.REFERENCE_INVALID) && !e.message.includes('hunter2') && /--creds/.test(e.message),
    );
  }
});

test('formatReference never includes the user', () => {
  const s = formatReference(parseReference('docker://secretuser@nvcr.io#x/y'));
  assert.ok(!s.includes('secretuser'));
});

test('round trip: format(parse(format(parse(x)))) is stable and parse(format(r)) == r minus user', () => {
  for (const [input] of VALID) {
    const r = parseReference(input);
    const once = formatReference(r);
    const again = parseReference(once);
    assert.equal(formatReference(again), once, input);
    const { user: _u, ...withoutUser } = r as ImageReference & { user?: string };
    assert.deepEqual(again, withoutUser, input);
  }
});

test('registryApiHost maps Docker Hub only', () => {
  assert.equal(registryApiHost('docker.io'), 'registry-1.docker.io');
  assert.equal(registryApiHost('index.docker.io'), 'registry-1.docker.io');
  assert.equal(registryApiHost('ghcr.io'), 'ghcr.io');
  assert.equal(registryApiHost('localhost:5000'), 'localhost:5000');
});

test('enrootUri uses registry#image and no user', () => {
  assert.equal(enrootUri(parseReference('busybox')), 'docker://registry-1.docker.io#library/busybox:latest');
  assert.equal(enrootUri(parseReference('docker://u@nvcr.io#nvidia/pytorch:25.06-py3')), 'docker://nvcr.io#nvidia/pytorch:25.06-py3');
  assert.equal(enrootUri(parseReference(`ghcr.io/o/i@sha256:${D64}`)), `docker://ghcr.io#o/i@sha256:${D64}`);
  assert.equal(enrootUri(parseReference(`ghcr.io/o/i:t@sha256:${D64}`)), `docker://ghcr.io#o/i:t@sha256:${D64}`);
  assert.equal(enrootUri(parseReference('oci:/x/y:v1')), 'oci:/x/y:v1');
  // enroot's own URI parses back to the same image
  for (const input of ['busybox', 'nvcr.io/nvidia/pytorch:25.06-py3', `quay.io/a/b@sha256:${D64}`, 'localhost:5000/x/y:1']) {
    const r = parseReference(input);
    assert.deepEqual(parseReference(enrootUri(r)), r, input);
  }
});

test('enrootFileName follows enroot import naming', () => {
  assert.equal(enrootFileName(parseReference('docker://nvcr.io#nvidia/pytorch:25.06-py3')), 'nvidia+pytorch+25.06-py3');
  assert.equal(enrootFileName(parseReference('ubuntu:18.04')), 'ubuntu+18.04');
  assert.equal(enrootFileName(parseReference('alpine')), 'alpine+latest');
  assert.equal(enrootFileName(parseReference('docker://registry-1.docker.io#library/busybox:latest')), 'busybox+latest');
  assert.equal(enrootFileName(parseReference('bitnami/redis:7')), 'bitnami+redis+7');
  assert.equal(enrootFileName(parseReference(`alpine@sha256:${D64}`)), `alpine+sha256:${D64}`);
  assert.equal(enrootFileName(parseReference(`alpine:3@sha256:${D64}`)), `alpine+sha256:${D64}`);
  assert.equal(enrootFileName(parseReference('localhost:5000/library/x')), 'library+x+latest');
  assert.equal(enrootFileName(parseReference('oci-archive:/x/img.tar:v1')), 'img+v1');
  assert.equal(enrootFileName(parseReference('dir:/srv/rootfs')), 'rootfs');
});
