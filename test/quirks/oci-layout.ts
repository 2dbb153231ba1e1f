/**
 * Test helper: an OCI image layout (image-spec image-layout.md) with one
 * manifest tagged "t" whose layers are the given uncompressed tars
 * (application/vnd.oci.image.layer.v1.tar), for `umoci unpack` as oracle.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

async function blob(dir: string, data: Buffer): Promise<{ digest: string; size: number }> {
  const hex = createHash('sha256').update(data).digest('hex');
  await writeFile(join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

export async function writeOciLayout(dir: string, layerTars: string[]): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers = [];
  const diffIds = [];
  for (const t of layerTars) {
    const b = await blob(dir, await readFile(t));
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...b });
    diffIds.push(b.digest);
  }
  const config = await blob(dir, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } })));
  const manifest = await blob(dir, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers })));
  await writeFile(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 't' } }],
  }));
}
