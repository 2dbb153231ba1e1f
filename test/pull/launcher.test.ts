/**
 * bin/oci2fs, the package's bin: a shell launcher that keeps node from
 * loading NODE_EXTRA_CA_CERTS at start-up and hands the file to the CLI,
 * which loads it for its first verified TLS connection and gives it back
 * to the processes it starts (src/registry/trust.ts). Checked against a
 * real HTTPS registry with basic auth, whose self-signed certificate is
 * trusted only through that file, with credentials from a credential helper
 * that records the environment it was started with.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type BuiltImage } from '../harness/image-builder.js';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { CLI, LAUNCHER, PATH_WITH_NODE, runCli } from './cli.js';

let reg: TestRegistry;
let work: string;
let img: BuiltImage;

before(async () => {
  reg = await startRegistry({ tls: true, auth: 'basic' });
  work = await mkdtemp(join(tmpdir(), 'oci2fs-launcher-'));
  const layout = join(work, 'layout');
  img = await buildImage({ layers: [{ files: { 'etc/hostname': 'launcher\n' } }] }, layout);
  const [user, pass] = Object.entries(reg.users)[0];
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `--dest-creds=${user}:${pass}`, `oci:${layout}`, `docker://${reg.host}/launch/img:v1`]);
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs `PROGRAM ARGS` with NODE_EXTRA_CA_CERTS naming a file that does not exist; returns stderr. */
function stderrWithMissingCaFile(program: string, args: string[]): string {
  const r = spawnSync(program, args, { env: { PATH: PATH_WITH_NODE, NODE_EXTRA_CA_CERTS: join(work, 'no-such-ca.pem') }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

test('node started directly loads NODE_EXTRA_CA_CERTS at start-up; through bin/oci2fs it does not', () => {
  // node warns about an unreadable file while it starts: the sign that it read it
  assert.match(stderrWithMissingCaFile(process.execPath, [CLI, '--version']), /Ignoring extra certs/);
  assert.equal(stderrWithMissingCaFile(LAUNCHER, ['--version']), '');
});

test('bin/oci2fs works through a symbolic link, as npm installs it', async () => {
  const dir = join(work, 'node_modules-bin');
  await mkdir(dir, { recursive: true });
  await symlink(LAUNCHER, join(dir, 'oci2fs'));
  const r = spawnSync(join(dir, 'oci2fs'), ['--version'], { env: { PATH: PATH_WITH_NODE }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^oci2fs \d+\.\d+\.\d+\n$/);
});

test('a deferred NODE_EXTRA_CA_CERTS still verifies the registry, and credential helpers get it back', async () => {
  const home = await mkdtemp(join(work, 'home-'));
  const bin = join(home, 'bin');
  const seen = join(home, 'helper-env');
  const [user, pass] = Object.entries(reg.users)[0];
  await mkdir(bin);
  await mkdir(join(home, '.docker'));
  await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ credHelpers: { [reg.host]: 'record' } }));
  await writeFile(
    join(bin, 'docker-credential-record'),
    `#!/bin/sh\nprintf '%s|%s' "\${NODE_EXTRA_CA_CERTS-unset}" "\${OCI2FS_EXTRA_CA_CERTS-unset}" > ${JSON.stringify(seen)}\n` +
      `printf '{"ServerURL":"%s","Username":"${user}","Secret":"${pass}"}' "${reg.host}"\n`,
  );
  await chmod(join(bin, 'docker-credential-record'), 0o755);
  const store = join(work, 'store');
  const r = await runCli(['pull', '--store', store, `${reg.host}/launch/img:v1`], {
    HOME: home,
    PATH: [bin, PATH_WITH_NODE].join(':'),
    NODE_EXTRA_CA_CERTS: reg.certPath!,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), img.manifestDigest);
  assert.equal(await readFile(seen, 'utf8'), `${reg.certPath}|unset`);
});

test('a deferred NODE_EXTRA_CA_CERTS without the registry certificate: verification fails, as it would in node', async () => {
  const other = join(work, 'other-ca.pem');
  await writeFile(other, execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=other', '-days', '1'], { stdio: ['ignore', 'pipe', 'ignore'] }));
  const r = await runCli(['pull', '--store', join(work, 'store-other'), `${reg.host}/launch/img:v1`], { NODE_EXTRA_CA_CERTS: other });
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /certificate could not be verified/);
});
