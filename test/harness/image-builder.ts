/**
 * Builds small test images without a container daemon and writes them as an
 * OCI image layout (image-spec image-layout.md: oci-layout, index.json,
 * blobs/<alg>/<hex>). Layer tars come from GNU tar with reproducible flags,
 * so the same spec always gives the same digests.
 *
 * API (stable):
 *
 *   const img = await buildImage({
 *     layers: [
 *       { files: { 'etc/hostname': 'box\n', 'bin': { type: 'dir' }, 'bin/sh': { type: 'symlink', target: 'busybox' } } },
 *       { files: { 'big.bin': { type: 'file', content: buf, mode: 0o755 } }, compression: 'zstd' },
 *       { tarPath: '/path/to/prebuilt.tar', compression: 'none' },
 *     ],
 *     config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },  // the `config` object of the image config
 *     platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },  // default linux/amd64
 *     format: 'oci' | 'docker',                           // media types; default 'oci'
 *   }, layoutDir);
 *   // img: BuiltImage { manifestDigest, manifestSize, mediaType, configDigest, layers[], descriptor, manifestBytes, configBytes }
 *
 *   const idx = await buildIndex([imgAmd64, imgArm64], layoutDir, { format: 'oci' | 'docker' });
 *   // idx: { indexDigest, descriptor, bytes }
 *
 *   await makeRandomFile(path, size, seed)  // deterministic pseudo-random bytes
 *
 * Several images may share one layoutDir (blobs are shared); index.json is
 * rewritten each time to hold exactly the last thing built (what pushLayout pushes),
 * tagged `spec.tag` / `opts.tag` (default 'latest') for tools such as umoci and skopeo (oci:DIR:TAG).
 * File specs: a string or Buffer is a regular file (mode 0644); objects give
 * type 'file' | 'dir' | 'symlink' | 'hardlink' (target = path inside the layer).
 * Whiteouts are plain empty files named '.wh.NAME' / '.wh..wh..opq'.
 * Ownership is always 0:0, mtimes 0.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, link, mkdir, mkdtemp, open, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export type FileSpec =
  | string
  | Buffer
  | { type: 'file'; content: string | Buffer; mode?: number }
  | { type: 'dir'; mode?: number }
  | { type: 'symlink'; target: string }
  | { type: 'hardlink'; target: string };

/**
 * A tiny root filesystem for a first layer: /etc with two files, a setuid
 * /bin/busybox and /bin/sh linking to it. Tests spread it and add their own.
 */
export function busyboxRoot(): Record<string, FileSpec> {
  return {
    etc: { type: 'dir' },
    'etc/hostname': 'box\n',
    'etc/motd': 'hello\n',
    bin: { type: 'dir' },
    'bin/busybox': { type: 'file', content: '#!/bin/true\n', mode: 0o4755 },
    'bin/sh': { type: 'symlink', target: 'busybox' },
  };
}

export interface LayerSpec {
  files?: Record<string, FileSpec>;
  tarPath?: string;
  compression?: 'gzip' | 'zstd' | 'none';
}

export interface ImageSpec {
  layers: LayerSpec[];
  config?: Record<string, unknown>;
  platform?: { os: string; architecture: string; variant?: string };
  format?: 'oci' | 'docker';
  /** The org.opencontainers.image.ref.name of the index.json entry. Default 'latest'. */
  tag?: string;
  /** Extra top-level fields merged into the config JSON (e.g. { created: '...' }). */
  configExtra?: Record<string, unknown>;
}

export interface BuiltLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
  compression: 'gzip' | 'zstd' | 'none';
}

export interface BlobDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface BuiltImage {
  manifestDigest: string;
  manifestSize: number;
  mediaType: string;
  manifestBytes: Buffer;
  configDigest: string;
  configBytes: Buffer;
  layers: BuiltLayer[];
  /** Descriptor of the manifest, with platform (for indexes). */
  descriptor: BlobDescriptor;
}

export interface BuiltIndex {
  indexDigest: string;
  bytes: Buffer;
  descriptor: BlobDescriptor;
}

const MT = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    index: 'application/vnd.oci.image.index.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: { gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' },
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: { gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' },
  },
} as const;

/** GNU tar flags for byte-reproducible archives. */
const TAR_FLAGS = [
  '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=pax',
  '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
];

/** An empty tar archive: two 512-byte zero blocks (POSIX ustar end-of-archive). */
const EMPTY_TAR = Buffer.alloc(1024);

const sha256 = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function writeBlob(layoutDir: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const dir = join(layoutDir, 'blobs', 'sha256');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, digest.slice(7)), bytes);
  return digest;
}

/** OCI image-spec annotations.md: the tag of a layout index.json entry. */
const REF_NAME = 'org.opencontainers.image.ref.name';

async function writeLayoutIndex(layoutDir: string, d: BlobDescriptor, tag: string): Promise<void> {
  await mkdir(layoutDir, { recursive: true });
  await writeFile(join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const entry = { mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: { [REF_NAME]: tag } };
  await writeFile(join(layoutDir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.oci.index, manifests: [entry] }));
}

/** Materialises `files` in a temp dir and tars it. */
async function tarFiles(files: Record<string, FileSpec>): Promise<Buffer> {
  const names = Object.keys(files).sort();
  if (names.length === 0) return EMPTY_TAR;
  const dir = await mkdtemp(join(tmpdir(), 'oci2fs-layer-'));
  try {
    const hardlinks: [string, string][] = [];
    const modes: [string, number][] = [];
    for (const name of names) {
      const spec = files[name];
      const p = join(dir, name);
      await mkdir(dirname(p), { recursive: true });
      if (typeof spec === 'string' || Buffer.isBuffer(spec)) {
        await writeFile(p, spec);
        modes.push([p, 0o644]);
      } else if (spec.type === 'file') {
        await writeFile(p, spec.content);
        modes.push([p, spec.mode ?? 0o644]);
      } else if (spec.type === 'dir') {
        await mkdir(p, { recursive: true });
        modes.push([p, spec.mode ?? 0o755]);
      } else if (spec.type === 'symlink') {
        await symlink(spec.target, p);
      } else {
        hardlinks.push([join(dir, spec.target), p]);
      }
    }
    for (const [target, p] of hardlinks) await link(target, p);
    // Deepest first, so a read-only directory does not block its children.
    for (const [p, mode] of modes.reverse()) await chmod(p, mode);
    const top = (await readdir(dir)).sort();
    return execFileSync('tar', ['-C', dir, ...TAR_FLAGS, '-cf', '-', '--', ...top], { maxBuffer: 1 << 30 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function compress(tar: Buffer, c: 'gzip' | 'zstd' | 'none'): Buffer {
  if (c === 'none') return tar;
  if (c === 'gzip') return gzipSync(tar);
  return execFileSync('zstd', ['-q', '-c', '-3'], { input: tar, maxBuffer: 1 << 30 });
}

/** Builds one image into `layoutDir` and points index.json at it. */
export async function buildImage(spec: ImageSpec, layoutDir: string): Promise<BuiltImage> {
  const format = spec.format ?? 'oci';
  const mt = MT[format];
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers: BuiltLayer[] = [];
  for (const l of spec.layers) {
    const compression = l.compression ?? 'gzip';
    const tar = l.tarPath ? await readFile(l.tarPath) : await tarFiles(l.files ?? {});
    const blob = compress(tar, compression);
    const digest = await writeBlob(layoutDir, blob);
    layers.push({ digest, diffId: sha256(tar), size: blob.length, mediaType: mt.layer[compression], compression });
  }
  const configDoc = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created_by: `test layer ${i}` })),
    ...(spec.configExtra ?? {}),
  };
  const configBytes = Buffer.from(JSON.stringify(configDoc));
  const configDigest = await writeBlob(layoutDir, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: mt.manifest,
    config: { mediaType: mt.config, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = await writeBlob(layoutDir, manifestBytes);
  const descriptor: BlobDescriptor = { mediaType: mt.manifest, digest: manifestDigest, size: manifestBytes.length, platform };
  await writeLayoutIndex(layoutDir, descriptor, spec.tag ?? 'latest');
  return { manifestDigest, manifestSize: manifestBytes.length, mediaType: mt.manifest, manifestBytes, configDigest, configBytes, layers, descriptor };
}

/** Builds a multi-platform index over images already in `layoutDir`; index.json points at it. */
export async function buildIndex(images: BuiltImage[], layoutDir: string, opts: { format?: 'oci' | 'docker'; tag?: string } = {}): Promise<BuiltIndex> {
  const mediaType = MT[opts.format ?? 'oci'].index;
  const doc = { schemaVersion: 2, mediaType, manifests: images.map((i) => i.descriptor) };
  const bytes = Buffer.from(JSON.stringify(doc));
  const indexDigest = await writeBlob(layoutDir, bytes);
  const descriptor: BlobDescriptor = { mediaType, digest: indexDigest, size: bytes.length };
  await writeLayoutIndex(layoutDir, descriptor, opts.tag ?? 'latest');
  return { indexDigest, bytes, descriptor };
}

/** A reproducible 32-bit xorshift generator (Marsaglia 2003) for test data; seed 0 is replaced. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export async function makeRandomFile(path: string, size: number, seed: number): Promise<void> {
  const CHUNK = 1 << 20;
  const next = xorshift32(seed);
  const fh = await open(path, 'w');
  try {
    for (let done = 0; done < size; done += CHUNK) {
      const n = Math.min(CHUNK, size - done);
      const words = new Uint32Array(Math.ceil(n / 4));
      for (let i = 0; i < words.length; i++) words[i] = next();
      await fh.write(new Uint8Array(words.buffer, 0, n));
    }
  } finally {
    await fh.close();
  }
}

/** `size` reproducible, compressible, layer-like bytes (letters and digits-ish from xorshift32). */
export function compressibleBytes(size: number, seed: number): Buffer {
  const next = xorshift32(seed);
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE(((next() & 0x1f1f1f1f) | 0x40404040) >>> 0, i);
  return b;
}
