/**
 * Documents addressed by digest never change, so when the store already has
 * one it is read from there (verified) instead of the source: a pull pinned
 * by digest, or an index's child manifest seen before, costs no round trip.
 * Tags and blobs go to the source as usual (ingestBlob skips stored blobs).
 */
import { MANIFEST_MAX_BYTES, type Descriptor } from '../image/index.js';
import type { ImageReference } from '../reference/index.js';
import type { Store } from '../store/index.js';
import type { FetchedDocument, SourceBackend } from './types.js';

export class CachedBackend implements SourceBackend {
  readonly label: string;

  constructor(
    private readonly inner: SourceBackend,
    private readonly store: Store,
    private readonly ref: ImageReference,
  ) {
    this.label = inner.label;
  }

  private async stored(digest: string, size?: number): Promise<Uint8Array | undefined> {
    const have = await this.store.blobSize(digest);
    if (have === undefined || (size !== undefined && have !== size) || have > MANIFEST_MAX_BYTES) return undefined;
    try {
      return await this.store.readBlob(digest, have, MANIFEST_MAX_BYTES);
    } catch {
      return undefined; // corrupt: removed by readBlob; fetch it again
    }
  }

  async top(): Promise<FetchedDocument> {
    const pinned = this.ref.transport === 'docker' ? this.ref.digest : undefined;
    if (pinned?.startsWith('sha256:')) {
      const bytes = await this.stored(pinned);
      if (bytes) return { bytes, digest: pinned };
    }
    return this.inner.top();
  }

  async manifest(desc: Descriptor): Promise<FetchedDocument> {
    if (desc.digest.startsWith('sha256:')) {
      const bytes = await this.stored(desc.digest, desc.size);
      if (bytes) return { bytes, mediaType: desc.mediaType, digest: desc.digest };
    }
    return this.inner.manifest(desc);
  }

  openBlob(desc: Descriptor, offset: number): Promise<{ body: AsyncIterable<Uint8Array>; start: number; cancel?: () => void }> {
    return this.inner.openBlob(desc, offset);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
