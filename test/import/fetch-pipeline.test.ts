/**
 * A cold import decodes each layer as soon as its blob is downloaded, while
 * the other blobs are still on their way (source startFetch → convert
 * startSpill). The registry (through its fault proxy) holds one layer's blob
 * back for a while; the other layer's spilled tar must be complete before
 * that blob even arrives, and the output must still be exactly the image.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRegistry, type TestRegistry } from '../harness/registry.js';
import { buildImage, type BuiltImage } from '../harness/image-builder.js';
import { pushLayout } from '../harness/push.js';
import { runCli, tool } from './cli.js';

/** How long the proxy holds the late blob back. */
const HOLD_MS = 2500;

let reg: TestRegistry;
let work: string;
let img: BuiltImage;

before(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'oci2fs-fetch-pipeline-'));
  const layout = join(work, 'layout');
  img = await buildImage(
    {
      layers: [
        // over igzip's 1 MiB threshold, so it spills in processes where igzip is installed
        { files: { 'first.bin': randomBytes(3 << 20), etc: { type: 'dir' } } },
        { files: { 'etc/late': 'arrives late\n' } },
      ],
    },
    layout,
  );
  await pushLayout(layout, reg.host, 'test/pipeline', 'v1');
});

after(async () => {
  await reg?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('a layer is decoded while another layer is still downloading; the output is the whole image', async () => {
  const [first, late] = img.layers;
  reg.proxy.addFault({ path: new RegExp(`/blobs/${late.digest}$`), method: 'GET', fault: { kind: 'delay', ms: HOLD_MS } });
  try {
    const store = join(work, 'store');
    const out = join(work, 'out.tar');
    const r = await runCli(['import', '--store', store, '--insecure-registry', reg.host, '--no-cache', `${reg.host}/test/pipeline:v1`, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    // mtimes: the spilled tar's last write (decode done), the late blob's last write (download done)
    const decoded = (await stat(join(store, 'diffs', 'sha256', first.diffId.slice('sha256:'.length)))).mtimeMs;
    const arrived = (await stat(join(store, 'blobs', 'sha256', late.digest.slice('sha256:'.length)))).mtimeMs;
    assert.ok(decoded < arrived - HOLD_MS / 2, `layer 0 decoded ${(arrived - decoded).toFixed(0)} ms before layer 1 arrived (held ${HOLD_MS} ms)`);
    const list = (await tool('tar', ['-tf', out])).toString().split('\n');
    for (const name of ['first.bin', 'etc/late']) assert.ok(list.includes(name), `${name} in the output: ${list.join(' ')}`);
  } finally {
    reg.proxy.clearFaults();
  }
});
