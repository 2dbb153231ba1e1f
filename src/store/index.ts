/** The content store (layer 4): an OCI image layout shared safely between processes. */
export { Store, DEFAULT_MAX_READ_BYTES } from './store.js';
export type { BlobOpener } from './ingest.js';
export type { StoreDescriptor, StorePlatform } from './index-json.js';
export { platformKey, refNameOf } from './index-json.js';
export type { VerifyReport, VerifyProblem } from './verify.js';
export type { LockOptions } from './lock.js';
export { ANNOTATION, RESERVED_DIRS, defaultStoreDir, type ReservedDir } from './layout.js';
export { sha256Hex, digestOf } from './digest.js';
