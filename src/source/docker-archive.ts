/**
 * `docker-archive:FILE[:REF]`: the `docker save` format (a tar with
 * manifest.json = [{ Config, RepoTags, Layers }], config and layer tars as
 * members). We present it as an OCI image: the config JSON as is, and an
 * OCI manifest we build whose layers are the member files, with their media
 * type from their magic bytes. For an uncompressed layer the tar's sha256 is
 * both its digest and its diff_id (so the config's diff_ids name it and no
 * extra pass is needed); a compressed one is hashed once here. Everything is
 * verified again as it is copied into the store.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { detectCompression, DETECT_BYTES } from '../compress/detect.js';
import {
  CONFIG_MAX_BYTES,
  OCI_CONFIG,
  OCI_LAYER_TAR,
  OCI_LAYER_TAR_GZIP,
  OCI_LAYER_TAR_ZSTD,
  OCI_MANIFEST,
  parseImageConfig,
  sha256Digest,
  sha256DigestOfStream,
  type Descriptor,
} from '../image/index.js';
import { formatReference, parseReference, type LayoutReference } from '../reference/index.js';
import { TarFiles } from './files.js';
import type { FetchedDocument, SourceBackend } from './types.js';

/** Largest manifest.json of an archive we read. */
const MAX_ARCHIVE_MANIFEST_BYTES = 16 << 20;
/** `@N`: the N-th image of the archive (skopeo's docker-archive syntax). */
const INDEX_REF_RE = /^@([0-9]+)$/;

interface ArchiveImage {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const MEDIA_TYPE_BY_COMPRESSION = { none: OCI_LAYER_TAR, gzip: OCI_LAYER_TAR_GZIP, zstd: OCI_LAYER_TAR_ZSTD } as const;

/** Normalised form of a RepoTag or REF for comparison (`alpine:3` → `docker://docker.io/library/alpine:3`). */
function normalTag(s: string): string {
  try {
    return formatReference(parseReference(`docker://${s}`));
  } catch {
    return s;
  }
}

async function firstBytes(files: TarFiles, name: string): Promise<Uint8Array> {
  for await (const c of files.open(name, 0)) return c.subarray(0, DETECT_BYTES);
  return new Uint8Array(0);
}

/** Digests of compressed members already hashed by this process (resolve, then fetch, opens the archive twice). */
const memberDigests = new Map<string, string>();

async function hashMember(files: TarFiles, name: string): Promise<string> {
  const key = files.memberKey(name);
  const known = memberDigests.get(key);
  if (known) return known;
  const digest = await sha256DigestOfStream(files.open(name, 0));
  memberDigests.set(key, digest);
  return digest;
}

export class DockerArchiveBackend implements SourceBackend {
  readonly label: string;

  private constructor(
    private readonly files: TarFiles,
    private readonly manifestBytes: Buffer,
    private readonly members: Map<string, string>,
  ) {
    this.label = files.label;
  }

  static async open(ref: LayoutReference): Promise<DockerArchiveBackend> {
    const label = `docker archive ${ref.path}`;
    const files = await TarFiles.index(ref.path, label);
    const raw = await files.read('manifest.json', MAX_ARCHIVE_MANIFEST_BYTES).catch((e) => {
      throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `${label} has no manifest.json: is it a \`docker save\` archive?`, { cause: e });
    });
    let list: ArchiveImage[];
    try {
      list = JSON.parse(raw.toString('utf8')) as ArchiveImage[];
    } catch (e) {
      throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `manifest.json of ${label} is not valid JSON`, { cause: e });
    }
    if (!Array.isArray(list) || list.some((i) => typeof i?.Config !== 'string' || !Array.isArray(i.Layers) || !i.Layers.every((l) => typeof l === 'string'))) {
      throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `manifest.json of ${label} is not a list of {Config, RepoTags, Layers}`);
    }
    const image = pickImage(list, ref.ref, label);

    const configBytes = await files.read(image.Config, CONFIG_MAX_BYTES);
    const config = parseImageConfig(configBytes);
    if (config.diffIds.length !== image.Layers.length) {
      throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `${label}: the config lists ${config.diffIds.length} diff_ids but manifest.json ${image.Layers.length} layers`);
    }
    const members = new Map<string, string>();
    const configDigest = sha256Digest(configBytes);
    members.set(configDigest, image.Config);
    const layers: Descriptor[] = [];
    for (const [i, name] of image.Layers.entries()) {
      const size = await files.size(name);
      if (size === undefined) throw new Oci2fsError(ErrorCode.NOT_FOUND, `${label} lacks layer ${name}`);
      const compression = detectCompression(await firstBytes(files, name));
      const digest = compression === 'none' ? config.diffIds[i] : await hashMember(files, name);
      members.set(digest, name);
      layers.push({ mediaType: MEDIA_TYPE_BY_COMPRESSION[compression], digest, size });
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.length },
      layers,
    };
    return new DockerArchiveBackend(files, Buffer.from(JSON.stringify(manifest)), members);
  }

  async top(): Promise<FetchedDocument> {
    return { bytes: this.manifestBytes, mediaType: OCI_MANIFEST };
  }

  async manifest(desc: Descriptor): Promise<FetchedDocument> {
    throw new Oci2fsError(ErrorCode.INTERNAL, `${this.label} has no index, yet manifest ${desc.digest} was asked for`);
  }

  async openBlob(desc: Descriptor, offset: number): Promise<{ body: AsyncIterable<Uint8Array>; start: number }> {
    const name = this.members.get(desc.digest);
    if (!name) throw new Oci2fsError(ErrorCode.NOT_FOUND, `${this.label} has no blob ${desc.digest}`);
    return { body: this.files.open(name, offset), start: offset };
  }

  async close(): Promise<void> {}
}

function pickImage(list: ArchiveImage[], ref: string | undefined, label: string): ArchiveImage {
  const tags = () => list.flatMap((i, n) => (i.RepoTags?.length ? i.RepoTags : [`@${n}`])).join(', ');
  if (ref === undefined) {
    if (list.length === 1) return list[0];
    throw new Oci2fsError(ErrorCode.NOT_FOUND, `${label} holds ${list.length} images; name one after a colon (${tags() || 'none'})`);
  }
  const m = INDEX_REF_RE.exec(ref);
  if (m) {
    const img = list[Number(m[1])];
    if (img) return img;
    throw new Oci2fsError(ErrorCode.NOT_FOUND, `${label} has no image @${m[1]}; it holds ${list.length}`);
  }
  const want = normalTag(ref);
  const hit = list.find((i) => (i.RepoTags ?? []).some((t) => t === ref || normalTag(t) === want));
  if (hit) return hit;
  throw new Oci2fsError(ErrorCode.NOT_FOUND, `${label} has no image tagged ${ref}; it has: ${tags() || '(no tags)'}`);
}
