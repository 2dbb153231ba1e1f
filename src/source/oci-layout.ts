/**
 * `oci:DIR[:REF]` and `oci-archive:FILE[:REF]`: an OCI image layout
 * (image-spec image-layout.md) as a directory or a tar of one. REF selects
 * the index.json entry whose `org.opencontainers.image.ref.name` equals it;
 * without REF the layout must hold exactly one entry.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { MANIFEST_MAX_BYTES, parseDescriptor, type Descriptor } from '../image/index.js';
import type { LayoutReference } from '../reference/index.js';
import { DirFiles, TarFiles, type ArchiveFiles } from './files.js';
import type { FetchedDocument, SourceBackend } from './types.js';

/** image-spec annotations.md: the ref name annotation. */
const REF_NAME = 'org.opencontainers.image.ref.name';
/** Largest index.json of a layout we read. */
const MAX_LAYOUT_INDEX_BYTES = 16 << 20;
/** image-spec image-layout.md: the only layout version. */
const LAYOUT_VERSION = '1.0.0';

/** `blobs/<alg>/<encoded>` of a digest (already validated by parseDescriptor). */
export function blobMember(digest: string): string {
  const i = digest.indexOf(':');
  return `blobs/${digest.slice(0, i)}/${digest.slice(i + 1)}`;
}

export class LayoutBackend implements SourceBackend {
  readonly label: string;

  private constructor(
    private readonly files: ArchiveFiles,
    private readonly entry: Descriptor,
  ) {
    this.label = files.label;
  }

  /** Opens the layout named by `ref` and picks its index.json entry. */
  static async open(ref: LayoutReference): Promise<LayoutBackend> {
    const files = ref.transport === 'oci' ? new DirFiles(ref.path) : await TarFiles.index(ref.path, `OCI archive ${ref.path}`);
    const layout = await files.read('oci-layout', 4096).catch((e) => {
      throw new Oci2fsError(ErrorCode.NOT_FOUND, `${files.label} is not an OCI image layout (no oci-layout file)`, { cause: e });
    });
    let version: unknown;
    try {
      version = (JSON.parse(layout.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch {
      version = undefined;
    }
    if (version !== LAYOUT_VERSION) {
      throw new Oci2fsError(ErrorCode.UNSUPPORTED, `${files.label} has image layout version ${JSON.stringify(version)}; only ${LAYOUT_VERSION} is supported`);
    }
    const bytes = await files.read('index.json', MAX_LAYOUT_INDEX_BYTES);
    let doc: { manifests?: unknown };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as { manifests?: unknown };
    } catch (e) {
      throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `index.json of ${files.label} is not valid JSON`, { cause: e });
    }
    if (!Array.isArray(doc.manifests)) throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `index.json of ${files.label} has no manifests array`);
    const entries = doc.manifests.map((m, i) => parseDescriptor(m, `index.json of ${files.label} manifests[${i}]`));
    return new LayoutBackend(files, pickEntry(entries, ref.ref, files.label));
  }

  async top(): Promise<FetchedDocument> {
    return this.manifest(this.entry);
  }

  async manifest(desc: Descriptor): Promise<FetchedDocument> {
    const bytes = await this.files.read(blobMember(desc.digest), MANIFEST_MAX_BYTES);
    return { bytes, mediaType: desc.mediaType, digest: desc.digest };
  }

  async openBlob(desc: Descriptor, offset: number): Promise<{ body: AsyncIterable<Uint8Array>; start: number }> {
    const name = blobMember(desc.digest);
    if ((await this.files.size(name)) === undefined) {
      throw new Oci2fsError(ErrorCode.NOT_FOUND, `${this.label} lacks blob ${desc.digest}`);
    }
    return { body: this.files.open(name, offset), start: offset };
  }

  async close(): Promise<void> {}
}

/** The entry named `ref`, or the only entry. */
function pickEntry(entries: Descriptor[], ref: string | undefined, label: string): Descriptor {
  const names = entries.map((e) => e.annotations?.[REF_NAME]).filter((n): n is string => n !== undefined);
  if (ref !== undefined) {
    const hit = entries.find((e) => e.annotations?.[REF_NAME] === ref);
    if (hit) return hit;
    throw new Oci2fsError(
      ErrorCode.NOT_FOUND,
      `${label} has no image named "${ref}"; it has: ${names.length ? [...new Set(names)].sort().join(', ') : '(no named images)'}`,
    );
  }
  if (entries.length === 1) return entries[0];
  throw new Oci2fsError(
    ErrorCode.NOT_FOUND,
    entries.length === 0
      ? `${label} holds no image`
      : `${label} holds ${entries.length} images; name one after a colon (${names.length ? [...new Set(names)].sort().join(', ') : 'none is named'})`,
  );
}
