/**
 * Independent check: skopeo reads the same registries.conf and we record, on
 * three local HTTP servers that answer "manifest unknown", which host and
 * repository it asks in which order. endpoints() must list the same sequence.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRegistriesConf } from './parse.js';
import { createRegistriesConfig } from './registries.js';

const haveSkopeo = spawnSync('sh', ['-c', 'command -v skopeo']).status === 0;
const servers: Server[] = [];
const hosts: string[] = [];
let requests: string[] = [];
let dir: string;

before(async () => {
  if (!haveSkopeo) return;
  dir = await mkdtemp(join(tmpdir(), 'oci2fs-skopeo-mirrors-'));
  for (let i = 0; i < 3; i++) {
    const s = createServer((req, res) => {
      res.setHeader('Docker-Distribution-Api-Version', 'registry/2.0');
      res.setHeader('Content-Type', 'application/json');
      if (req.url === '/v2/') {
        res.writeHead(200).end('{}');
        return;
      }
      const m = /^\/v2\/(.+)\/manifests\/[^/]+$/.exec(req.url ?? '');
      if (m) requests.push(`${hosts[i]} ${m[1]}`);
      res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const addr = s.address();
    hosts.push(`127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
    servers.push(s);
  }
});

after(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The manifest requests skopeo makes for `image` under `conf`, as "host repository". */
async function skopeoOrder(conf: string, image: string): Promise<string[]> {
  const path = join(dir, 'registries.conf');
  await writeFile(path, conf);
  requests = [];
  await new Promise<void>((resolve) => {
    const p = spawn('skopeo', ['--registries-conf', path, 'inspect', '--raw', `docker://${image}`], {
      stdio: 'ignore',
      env: { PATH: process.env.PATH, HOME: dir },
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return requests;
}

function ours(conf: string, registry: string, repository: string, byDigest: boolean): string[] {
  const parsed = parseRegistriesConf('test.conf', conf);
  const c = createRegistriesConfig({ ...parsed });
  return c.endpoints(registry, repository, { byDigest }).map((e) => `${e.host} ${e.repository}`);
}

const DIGEST = `sha256:${'c'.repeat(64)}`;

test('skopeo and endpoints() agree on mirror order, location and path rewrites', async (t) => {
  if (!haveSkopeo) {
    t.skip('skopeo not installed');
    return;
  }
  const [a, b, c] = hosts;
  const cases: { name: string; conf: string; image: string; registry: string; repository: string; byDigest: boolean }[] = [
    {
      name: 'location + mirrors with and without path',
      conf: `[[registry]]\nprefix = "example.invalid/foo"\nlocation = "${c}/bar"\ninsecure = true\n[[registry.mirror]]\nlocation = "${a}/mirror-for-foo"\ninsecure = true\n[[registry.mirror]]\nlocation = "${b}"\ninsecure = true\n`,
      image: 'example.invalid/foo/img:v1',
      registry: 'example.invalid',
      repository: 'foo/img',
      byDigest: false,
    },
    {
      name: 'Docker Hub mirror with path prefix',
      conf: `[[registry]]\nprefix = "docker.io"\nlocation = "${c}"\ninsecure = true\n[[registry.mirror]]\nlocation = "${a}/dockerhub"\ninsecure = true\n`,
      image: 'alpine:3.20',
      registry: 'docker.io',
      repository: 'library/alpine',
      byDigest: false,
    },
    {
      name: 'longest prefix wins',
      conf: `[[registry]]\nprefix = "example.invalid"\nlocation = "${a}/short"\ninsecure = true\n[[registry]]\nprefix = "example.invalid/team"\nlocation = "${b}/long"\ninsecure = true\n[[registry.mirror]]\nlocation = "${c}/m"\ninsecure = true\n`,
      image: 'example.invalid/team/app/x:1',
      registry: 'example.invalid',
      repository: 'team/app/x',
      byDigest: false,
    },
    {
      name: 'mirror-by-digest-only, tag pull skips mirrors',
      conf: `[[registry]]\nprefix = "example.invalid"\nlocation = "${c}"\ninsecure = true\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "${a}/d"\ninsecure = true\n`,
      image: 'example.invalid/p/q:tag',
      registry: 'example.invalid',
      repository: 'p/q',
      byDigest: false,
    },
    {
      name: 'mirror-by-digest-only, digest pull uses mirrors',
      conf: `[[registry]]\nprefix = "example.invalid"\nlocation = "${c}"\ninsecure = true\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "${a}/d"\ninsecure = true\n`,
      image: `example.invalid/p/q@${DIGEST}`,
      registry: 'example.invalid',
      repository: 'p/q',
      byDigest: true,
    },
  ];
  for (const k of cases) {
    const seen = await skopeoOrder(k.conf, k.image);
    assert.ok(seen.length > 0, `${k.name}: skopeo made no manifest request`);
    assert.deepEqual(ours(k.conf, k.registry, k.repository, k.byDigest), seen, k.name);
  }
});
