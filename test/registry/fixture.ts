/**
 * Shared images for the registry client tests: builds them once per
 * registry and pushes them.
 *   test/img:v1    OCI manifest, 2 layers (gzip; zstd with a 256 KiB random file)
 *   test/multi:v1  Docker manifest list: linux/amd64 and linux/arm64/v8 (Docker schema 2 manifests)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, buildIndex, makeRandomFile } from '../harness/image-builder.js';
import type { BuiltImage, BuiltIndex } from '../harness/image-builder.js';
import { pushLayout } from '../harness/push.js';
import type { TestRegistry } from '../harness/registry.js';

export interface Fixture {
  img: BuiltImage;
  amd64: BuiltImage;
  arm64: BuiltImage;
  multi: BuiltIndex;
  layoutDir: string;
  /** Reads a blob of the layout. */
  blob(digest: string): Promise<Buffer>;
  cleanup(): Promise<void>;
}

export async function pushFixture(reg: TestRegistry): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-regtest-'));
  const layoutDir = join(dir, 'layout');
  await makeRandomFile(join(dir, 'random.bin'), 256 * 1024, 42);
  const random = await readFile(join(dir, 'random.bin'));
  const [user, password] = Object.entries(reg.users)[0] ?? [];
  const auth = user ? { auth: { username: user, password } } : {};

  const img = await buildImage(
    {
      layers: [
        { files: { 'etc/os-release': 'ID=test\n', bin: { type: 'dir' } } },
        { files: { 'data/random.bin': random }, compression: 'zstd' },
      ],
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
    },
    layoutDir,
  );
  await pushLayout(layoutDir, reg.host, 'test/img', 'v1', auth);

  const amd64 = await buildImage({ layers: [{ files: { arch: 'amd64\n' } }], format: 'docker' }, layoutDir);
  const arm64 = await buildImage(
    { layers: [{ files: { arch: 'arm64\n' } }], format: 'docker', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    layoutDir,
  );
  const multi = await buildIndex([amd64, arm64], layoutDir, { format: 'docker' });
  await pushLayout(layoutDir, reg.host, 'test/multi', 'v1', auth);
  reg.proxy.resetCounts();
  return {
    img,
    amd64,
    arm64,
    multi,
    layoutDir,
    blob: (digest) => readFile(join(layoutDir, 'blobs', 'sha256', digest.slice(7))),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Drains an async iterable into one Buffer. */
export async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}
