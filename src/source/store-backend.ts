/**
 * `--offline`: the store itself as the source. A reference is found by its
 * index.json name (see names.ts) or, for `name@digest`, by the digest; when
 * the image came from an index that is also in the store, the index is the
 * top document so platform selection works as online.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { MANIFEST_MAX_BYTES, normalizePlatform, formatPlatform, type Descriptor, type Platform } from '../image/index.js';
import { formatReference, type ImageReference } from '../reference/index.js';
import { ANNOTATION, platformKey, refNameOf, type Store } from '../store/index.js';
import { storeRefName } from './names.js';
import type { FetchedDocument, SourceBackend } from './types.js';

export class StoreBackend implements SourceBackend {
  readonly label: string;

  private constructor(
    private readonly store: Store,
    private readonly topDigest: string,
    private readonly topSize: number,
  ) {
    this.label = `the store ${store.root}`;
  }

  static async open(ref: ImageReference, store: Store, platform: Platform): Promise<StoreBackend> {
    const name = storeRefName(ref);
    const canonical = formatReference(ref);
    const named = (await store.listRefs()).filter((d) => refNameOf(d) === name);
    if (named.length === 0) {
      if (ref.transport === 'docker' && ref.digest) {
        const size = await store.blobSize(ref.digest);
        if (size !== undefined) return new StoreBackend(store, ref.digest, size);
      }
      throw new Oci2fsError(ErrorCode.NOT_FOUND, `${canonical} is not in the store ${store.root}; pull it first (without --offline)`);
    }
    const key = platformKey(platform);
    const entry = named.find((d) => platformKey(d.platform) === key) ?? named[0];
    const indexDigest = entry.annotations?.[ANNOTATION.indexDigest];
    if (indexDigest) {
      const size = await store.blobSize(indexDigest);
      if (size !== undefined) return new StoreBackend(store, indexDigest, size);
    }
    return new StoreBackend(store, entry.digest, entry.size);
  }

  async top(): Promise<FetchedDocument> {
    return { bytes: await this.store.readBlob(this.topDigest, this.topSize, MANIFEST_MAX_BYTES), digest: this.topDigest };
  }

  async manifest(desc: Descriptor): Promise<FetchedDocument> {
    if (!(await this.store.hasBlob(desc.digest, desc.size))) {
      const p = desc.platform ? ` for ${formatPlatform(normalizePlatform(desc.platform))}` : '';
      throw new Oci2fsError(ErrorCode.NOT_FOUND, `Manifest ${desc.digest}${p} is not in the store ${this.store.root}; pull it first (without --offline)`);
    }
    return { bytes: await this.store.readBlob(desc.digest, desc.size, MANIFEST_MAX_BYTES), mediaType: desc.mediaType, digest: desc.digest };
  }

  async openBlob(desc: Descriptor, offset: number): Promise<{ body: AsyncIterable<Uint8Array>; start: number }> {
    throw new Oci2fsError(
      ErrorCode.NOT_FOUND,
      `Blob ${desc.digest} (from byte ${offset}) is not in the store ${this.store.root} and --offline forbids fetching it`,
    );
  }

  async close(): Promise<void> {}
}
