/**
 * Independent check of Docker reference normalisation: skopeo parses the same
 * strings, and a registries.conf relocates every registry to a local HTTP
 * server, so the manifest URL skopeo requests reveals its registry,
 * repository and tag/digest. Invalid references must make skopeo fail
 * before any request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseReference } from './parse.js';

const D = 'd'.repeat(64);
const REGISTRIES = ['docker.io', 'ghcr.io', 'quay.io', 'nvcr.io', 'localhost', 'localhost:5000', '127.0.0.1:5000', 'reg.example.com:8443'];
const VALID = [
  'alpine',
  'alpine:3.20',
  'docker.io/alpine',
  'docker.io/library/alpine:edge',
  'index.docker.io/library/alpine',
  'bitnami/redis:7.2',
  'a__b/c.d_e/f--g:x',
  'foo_bar:_tag',
  `alpine@sha256:${D}`,
  'ghcr.io/org/sub/img:1.0.0-rc.1',
  'nvcr.io/nvidia/pytorch:25.06-py3',
  'localhost/x',
  'localhost:5000/x/y:v1',
  `127.0.0.1:5000/test@sha256:${D}`,
  'reg.example.com:8443/team/app',
  'localhost:5000',
];
const INVALID = ['Alpine', 'docker.io/Library/alpine', 'alpine:-x', 'alpine:', 'a//b', 'a/b/', '-alpine', 'a___b', `alpine@sha256:abc`, D, 'alp ine'];

function manifestPath(input: string): string {
  const r = parseReference(input);
  if (r.transport !== 'docker') throw new Error('not docker');
  return `${r.registry.replace(/[:.]/g, '-')}/${r.repository}/manifests/${r.digest ?? r.tag}`;
}

test('skopeo requests the same registry/repository/tag as parseReference, and rejects the same bad names', async (t) => {
  if (spawnSync('sh', ['-c', 'command -v skopeo']).status !== 0) {
    t.skip('skopeo not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-skopeo-ref-'));
  let seen: string[] = [];
  const server = createServer((req, res) => {
    res.setHeader('Docker-Distribution-Api-Version', 'registry/2.0');
    res.setHeader('Content-Type', 'application/json');
    if (req.url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    seen.push((req.url ?? '').replace(/^\/v2\//, ''));
    res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
  });
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    const host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const conf = REGISTRIES.map(
      (reg) => `[[registry]]\nprefix = "${reg}"\nlocation = "${host}/${reg.replace(/[:.]/g, '-')}"\ninsecure = true\n`,
    ).join('\n');
    const confPath = join(dir, 'registries.conf');
    await writeFile(confPath, conf);
    // one skopeo per input, run one after the other so requests are attributed
    const run = (input: string) =>
      new Promise<number | null>((resolve) => {
        const p = spawn('skopeo', ['--registries-conf', confPath, 'inspect', '--raw', '--tls-verify=false', `docker://${input}`], {
          stdio: 'ignore',
          env: { PATH: process.env.PATH, HOME: dir },
        });
        const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
        p.on('close', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    const all = [...VALID, ...INVALID];
    const results: { input: string; path?: string; code: number | null }[] = [];
    for (const input of all) {
      seen = [];
      const code = await run(input);
      results.push({ input, code, path: seen[0] });
    }
    if (process.env.OCI2FS_DEBUG_SKOPEO) console.log(results);
    for (const r of results.slice(0, VALID.length)) {
      assert.equal(r.path, manifestPath(r.input), `skopeo asked ${r.path} for ${r.input}`);
    }
    for (const r of results.slice(VALID.length)) {
      assert.equal(r.path, undefined, `skopeo accepted ${r.input} and asked ${r.path}`);
      assert.notEqual(r.code, 0, r.input);
      assert.throws(() => parseReference(r.input), r.input);
    }
  } finally {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  }
});
