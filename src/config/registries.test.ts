import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistriesConfig } from './load.js';
import { parseRegistriesConf } from './parse.js';
import { prefixMatchLength } from './registries.js';
import { isOci2fsError, ErrorCode } from '../errors.js';

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'oci2fs-regconf-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function conf(text: string, insecureRegistries?: string[]) {
  const path = join(root, `r${n++}.conf`);
  await writeFile(path, text);
  return loadRegistriesConfig({ path, env: {}, homeDir: root, insecureRegistries });
}

const MANPAGE_EXAMPLE = `
unqualified-search-registries = ["example.com"]

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true

[[registry]]
location = "registry.com"

[[registry.mirror]]
location = "mirror.registry.com"
`;

test('containers-registries.conf(5) example: mirrors first, then the relocated origin', async () => {
  const c = await conf(MANPAGE_EXAMPLE);
  assert.deepEqual(c.endpoints('example.com', 'foo/image'), [
    { host: 'example-mirror-0.local', repository: 'mirror-for-foo/image', insecure: false, mirror: true },
    { host: 'example-mirror-1.local', repository: 'mirrors/foo/image', insecure: true, mirror: true },
    { host: 'internal-registry-for-example.com', repository: 'bar/image', insecure: false, mirror: false },
  ]);
  // a table's mirrors belong to it alone
  assert.deepEqual(c.endpoints('registry.com', 'image'), [
    { host: 'mirror.registry.com', repository: 'image', insecure: false, mirror: true },
    { host: 'registry.com', repository: 'image', insecure: false, mirror: false },
  ]);
  // "example.com/foobar" does not match prefix "example.com/foo"
  assert.deepEqual(c.endpoints('example.com', 'foobar/x'), [{ host: 'example.com', repository: 'foobar/x', insecure: false, mirror: false }]);
});

test('longest prefix wins; Docker Hub mirror with a path prefix', async () => {
  const c = await conf(`
[[registry]]
prefix = "docker.io"
[[registry.mirror]]
location = "mirror.example.com/dockerhub"

[[registry]]
prefix = "docker.io/library"
blocked = false
[[registry.mirror]]
location = "official.example.com:5000"
insecure = true
`);
  assert.deepEqual(c.endpoints('docker.io', 'bitnami/redis'), [
    { host: 'mirror.example.com', repository: 'dockerhub/bitnami/redis', insecure: false, mirror: true },
    { host: 'docker.io', repository: 'bitnami/redis', insecure: false, mirror: false },
  ]);
  assert.deepEqual(c.endpoints('docker.io', 'library/alpine'), [
    { host: 'official.example.com:5000', repository: 'alpine', insecure: true, mirror: true },
    { host: 'docker.io', repository: 'library/alpine', insecure: false, mirror: false },
  ]);
});

test('wildcard prefixes match subdomains (with port), not the domain itself, and do not rewrite', async () => {
  const c = await conf(`
[[registry]]
prefix = "*.example.com"
insecure = true

[[registry]]
prefix = "exact.example.com"
blocked = true
`);
  assert.equal(c.isInsecure('a.example.com'), true);
  assert.equal(c.isInsecure('a.b.example.com:5000'), true);
  assert.equal(c.isInsecure('example.com'), false);
  assert.equal(c.isInsecure('badexample.com'), false);
  assert.deepEqual(c.endpoints('x.example.com', 'p/q'), [{ host: 'x.example.com', repository: 'p/q', insecure: true, mirror: false }]);
  // the longer prefix string wins: the exact table, not the wildcard
  assert.equal(c.isBlocked('exact.example.com', 'x'), true);
  assert.equal(c.isInsecure('exact.example.com'), false);
  assert.equal(c.isBlocked('other.example.com', 'x'), false);
  assert.equal(prefixMatchLength('exact.example.com/x', '*.example.com'), 'exact.example.com'.length);
});

test('blocked, insecure and --insecure-registry', async () => {
  const c = await conf(
    `
[[registry]]
prefix = "evil.example.com"
blocked = true

[[registry]]
prefix = "ok.example.com/private"
blocked = true

[[registry]]
location = "lab.local:5000"
insecure = true
`,
    ['cli.local:5000'],
  );
  assert.equal(c.isBlocked('evil.example.com', 'any/thing'), true);
  assert.equal(c.isBlocked('ok.example.com', 'private/x'), true);
  assert.equal(c.isBlocked('ok.example.com', 'public/x'), false);
  assert.equal(c.isInsecure('lab.local:5000'), true);
  assert.equal(c.isInsecure('lab.local'), false);
  assert.equal(c.isInsecure('cli.local:5000'), true);
  assert.deepEqual(c.endpoints('cli.local:5000', 'a'), [{ host: 'cli.local:5000', repository: 'a', insecure: true, mirror: false }]);
});

test('pull-from-mirror and mirror-by-digest-only choose mirrors by pull kind', async () => {
  const c = await conf(`
[[registry]]
prefix = "q.example.com"
[[registry.mirror]]
location = "digest.example.com"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tag.example.com"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "all.example.com"

[[registry]]
prefix = "d.example.com"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m.example.com"
`);
  const hosts = (r: string, byDigest: boolean) => c.endpoints(r, 'x', { byDigest }).map((e) => e.host);
  assert.deepEqual(hosts('q.example.com', false), ['tag.example.com', 'all.example.com', 'q.example.com']);
  assert.deepEqual(hosts('q.example.com', true), ['digest.example.com', 'all.example.com', 'q.example.com']);
  assert.deepEqual(hosts('d.example.com', false), ['d.example.com']);
  assert.deepEqual(hosts('d.example.com', true), ['m.example.com', 'd.example.com']);
});

test('a whole-image prefix relocated to a Docker Hub short name gets library/', async () => {
  const c = await conf(`
[[registry]]
prefix = "corp.example.com/base/alpine"
location = "docker.io/alpine"
`);
  assert.deepEqual(c.endpoints('corp.example.com', 'base/alpine'), [{ host: 'docker.io', repository: 'library/alpine', insecure: false, mirror: false }]);
});

test('version 1 lists', async () => {
  const c = await conf(`
[registries.search]
registries = ['registry1.com']
[registries.insecure]
registries = ['registry3.com']
[registries.block]
registries = ['registry.untrusted.com']
`);
  assert.equal(c.isInsecure('registry3.com'), true);
  assert.equal(c.isBlocked('registry.untrusted.com', 'x'), true);
  assert.equal(c.isBlocked('registry1.com', 'x'), false);
});

test('invalid files are rejected with the file name and the table', () => {
  const bad: [string, RegExp][] = [
    ['[[registry]\nprefix=1', /not valid TOML/],
    ['[[registry]]\nprefix = 1', /"prefix" must be a string/],
    ['[[registry]]\ninsecure = true', /neither "prefix" nor "location"/],
    ['[[registry]]\nprefix = "*.a.com"\nlocation = "b.com"', /wildcard prefix cannot have a "location"/],
    ['[[registry]]\nprefix = "*a.com"', /must have the form \*\.domain/],
    ['[[registry]]\nprefix = "a.com"\n[[registry]]\nprefix = "a.com/"', /defined twice/],
    ['[[registry]]\nprefix = "a.com"\n[[registry.mirror]]\ninsecure = true', /mirror #1 has no "location"/],
    ['[[registry]]\nprefix = "a.com"\n[[registry.mirror]]\nlocation = "m.com"\npull-from-mirror = "sometimes"', /pull-from-mirror/],
    ['[[registry]]\nprefix = "a.com"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.com"\npull-from-mirror = "tag-only"', /cannot be combined/],
    ['[[registry]]\nlocation = "https://a.com"', /URL scheme/],
    ['[[registry]]\nlocation = "bad_host/x"', /valid host/],
    ['[registries.insecure]\nregistries = ["a"]\n[[registry]]\nprefix = "b.com"', /mixes/],
  ];
  for (const [text, re] of bad) {
    assert.throws(
      () => parseRegistriesConf('/etc/x.conf', text),
      (e: unknown) => isOci2fsError(e, ErrorCode.USAGE) && e.message.includes('/etc/x.conf') && re.test(e.message),
      text,
    );
  }
});

test('a location that leaves no repository is reported when used', async () => {
  const c = await conf('[[registry]]\nprefix = "a.com/img"\nlocation = "b.com"\n');
  assert.throws(() => c.endpoints('a.com', 'img'), (e: unknown) => isOci2fsError(e, ErrorCode.USAGE) && /no repository/.test(e.message));
});

test('search order: explicit path, $CONTAINERS_REGISTRIES_CONF, user file, system file, none', async () => {
  const home = join(root, 'home');
  await mkdir(join(home, '.config', 'containers'), { recursive: true });
  const sys = join(root, 'system.conf');
  await writeFile(sys, '[[registry]]\nlocation = "sys.example.com"\ninsecure = true\n');
  const envFile = join(root, 'env.conf');
  await writeFile(envFile, '[[registry]]\nlocation = "env.example.com"\ninsecure = true\n');
  const userFile = join(home, '.config', 'containers', 'registries.conf');

  const insecureHosts = async (o: Parameters<typeof loadRegistriesConfig>[0]) => {
    const c = await loadRegistriesConfig({ homeDir: home, systemPath: sys, ...o });
    return ['sys.example.com', 'env.example.com', 'user.example.com'].filter((h) => c.isInsecure(h));
  };
  assert.deepEqual(await insecureHosts({ env: {} }), ['sys.example.com']);
  await writeFile(userFile, '[[registry]]\nlocation = "user.example.com"\ninsecure = true\n');
  assert.deepEqual(await insecureHosts({ env: {} }), ['user.example.com']);
  assert.deepEqual(await insecureHosts({ env: { CONTAINERS_REGISTRIES_CONF: envFile } }), ['env.example.com']);
  assert.deepEqual(await insecureHosts({ env: { CONTAINERS_REGISTRIES_CONF: envFile }, path: sys }), ['sys.example.com']);
  assert.deepEqual(await insecureHosts({ env: { XDG_CONFIG_HOME: join(root, 'nowhere') }, systemPath: join(root, 'missing.conf') }), []);
  await assert.rejects(loadRegistriesConfig({ path: join(root, 'missing.conf'), env: {} }), (e: unknown) => isOci2fsError(e, ErrorCode.USAGE) && /missing\.conf/.test(e.message));
});

test("this machine's /etc/containers/registries.conf (distribution default) loads", async (t) => {
  try {
    const c = await loadRegistriesConfig({ path: '/etc/containers/registries.conf', env: {} });
    assert.deepEqual(c.endpoints('docker.io', 'library/alpine').at(-1), { host: 'docker.io', repository: 'library/alpine', insecure: false, mirror: false });
  } catch (e) {
    if (isOci2fsError(e, ErrorCode.USAGE) && /ENOENT/.test(e.message)) t.skip('no /etc/containers/registries.conf here');
    else throw e;
  }
});

test('drop-ins <file>.d/*.conf are applied in name order, replacing tables by prefix', async () => {
  const base = join(root, 'dropin.conf');
  await writeFile(base, '[[registry]]\nprefix = "a.example.com"\ninsecure = true\n\n[[registry]]\nprefix = "b.example.com"\nblocked = true\n');
  await mkdir(`${base}.d`);
  await writeFile(join(`${base}.d`, '20-late.conf'), '[[registry]]\nprefix = "c.example.com"\nblocked = true\n');
  await writeFile(join(`${base}.d`, '10-early.conf'), '[[registry]]\nprefix = "a.example.com"\ninsecure = false\n[[registry.mirror]]\nlocation = "m.example.com"\n');
  await writeFile(join(`${base}.d`, 'ignored.txt'), 'not toml at all [[[');
  await writeFile(join(`${base}.d`, '30-aliases.conf'), '[aliases]\n"x" = "docker.io/library/x"\n');
  const c = await loadRegistriesConfig({ path: base, env: {} });
  assert.equal(c.isInsecure('a.example.com'), false);
  assert.deepEqual(c.endpoints('a.example.com', 'r').map((e) => e.host), ['m.example.com', 'a.example.com']);
  assert.equal(c.isBlocked('b.example.com', 'r'), true);
  assert.equal(c.isBlocked('c.example.com', 'r'), true);
});
