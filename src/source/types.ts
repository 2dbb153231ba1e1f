/** The shapes shared by every image source (layer 5). */
import type { ProgressListener } from '../events.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from '../image/index.js';
import type { ImageReference } from '../reference/index.js';
import type { Store } from '../store/index.js';

/** An image whose manifest (and index) and config are in the store and verified; layers not yet fetched. */
export interface ResolvedImage {
  /** formatReference(reference): canonical and credential-free. */
  canonical: string;
  reference: ImageReference;
  /** The digest of the index the manifest was selected from, when the reference names an index. */
  indexDigest?: string;
  /** The platform-specific image manifest digest. */
  manifestDigest: string;
  manifest: ImageManifest;
  /** Descriptor of the manifest (mediaType, digest, size, platform). */
  manifestDescriptor: Descriptor;
  configDigest: string;
  config: ImageConfig;
  /** The image's platform (from its config, normalised). */
  platform: Platform;
  /** manifest.layers, in order. */
  layers: Descriptor[];
  /** The platforms an index offers (only when the reference names an index). */
  platforms?: Platform[];
}

export interface SourceOptions {
  store: Store;
  /** Platform to select from an index (default: the host's). */
  platform?: Platform;
  /** Layers fetched at once (default SOURCE_DEFAULT_JOBS). */
  jobs?: number;
  /** Use only what the store holds: no network, no source files. */
  offline?: boolean;
  /** USER:PASSWORD for the registry. */
  creds?: string;
  /** containers-auth.json path. */
  authfile?: string;
  /** Registries reached over plain HTTP / unverified TLS. */
  insecureRegistries?: string[];
  /** registries.conf path. */
  registriesConf?: string;
  env?: NodeJS.ProcessEnv;
  events?: ProgressListener;
}

/** Layers fetched concurrently by default. */
export const SOURCE_DEFAULT_JOBS = 4;

/** A manifest or index document as a backend returns it. */
export interface FetchedDocument {
  bytes: Uint8Array;
  /** Content-Type it was served with, if the transport has one. */
  mediaType?: string;
  /** Digest the backend vouches for (registry header, layout descriptor); re-checked against the bytes. */
  digest?: string;
}

/** One transport's access to an image: documents by reference/digest and blobs by range. */
export interface SourceBackend {
  /** Names the source in messages. */
  readonly label: string;
  /** The document (manifest or index) the reference names. */
  top(): Promise<FetchedDocument>;
  /** A child manifest of an index. */
  manifest(desc: Descriptor): Promise<FetchedDocument>;
  /** Opens a blob's bytes from `offset` (start: where the body really starts). */
  openBlob(desc: Descriptor, offset: number): Promise<{ body: AsyncIterable<Uint8Array>; start: number; cancel?: () => void }>;
  close(): Promise<void>;
}
