/**
 * The pyxis importer contract (pyxis importers/README.md): `get IMAGE_URI`
 * prints an absolute squashfs path on stdout and nothing else; the path is
 * valid until `release`; `release` is idempotent; failures exit non-zero
 * with the diagnosis on stderr.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, isAbsolute } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { buildImage } from '../harness/image-builder.js';
import { pushLayout } from '../harness/push.js';
import { runCli, tool } from './cli.js';

let reg: TestRegistry;
let work: string;

before(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'oci2fs-pyxis-'));
  await buildImage(
    { layers: [{ files: { etc: { type: 'dir' }, 'etc/os-release': 'ID=test\n' } }], config: { Env: ['A=1'], Cmd: ['/bin/sh'] } },
    join(work, 'layout'),
  );
  await pushLayout(join(work, 'layout'), reg.host, 'hpc/img', '1.0');
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function env(step: string): NodeJS.ProcessEnv {
  return { OCI2FS_STORE: join(work, 'store'), SLURM_JOB_UID: '1000', SLURM_JOB_ID: '77', SLURM_STEP_ID: step };
}

test('get prints one absolute path to a squashfs with enroot files; get twice; release twice', async () => {
  const uri = `docker://${reg.host}#hpc/img:1.0`;
  const args = ['pyxis-importer', '--insecure-registry', reg.host];
  const g1 = await runCli([...args, 'get', uri], { env: env('0') });
  assert.equal(g1.code, 0, g1.stderr);
  const lines = g1.stdout.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `stdout must hold only the path: ${g1.stdout}`);
  const path = lines[0];
  assert.ok(isAbsolute(path));
  const listing = (await tool('unsquashfs', ['-lln', '-d', '', path])).toString();
  assert.match(listing, /\/etc\/environment$/m);
  assert.match(listing, /\/etc\/rc$/m);
  assert.match((await tool('unsquashfs', ['-cat', path, 'etc/environment'])).toString(), /^A=1$/m);

  const requestsBefore = reg.proxy.requests.length;
  const g2 = await runCli([...args, 'get', uri], { env: env('0') });
  assert.equal(g2.code, 0, g2.stderr);
  assert.equal(g2.stdout.trim(), path);
  assert.ok(reg.proxy.requests.length - requestsBefore <= 2, 'a second get costs at most the manifest round trip');

  // another step of the same job gets its own path; releasing one leaves the other
  const g3 = await runCli([...args, 'get', uri], { env: env('1') });
  assert.notEqual(g3.stdout.trim(), path);
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['pyxis-importer', 'release'], { env: env('0') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
  }
  await assert.rejects(stat(path));
  await stat(g3.stdout.trim());
});

test('get of a missing image fails with a diagnosis on stderr and nothing on stdout', async () => {
  const r = await runCli(['pyxis-importer', '--insecure-registry', reg.host, 'get', `docker://${reg.host}#hpc/missing:1.0`], { env: env('9') });
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /E_NOT_FOUND/);
});
