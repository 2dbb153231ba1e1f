/** fs-verity digests (layer 1): see hasher.ts and docs/composefs.md. */
export {
  createFsverityHasher,
  FSVERITY_HASH_ALGS,
  FSVERITY_DEFAULT_BLOCK_SIZE,
  type FsverityAlgorithm,
  type FsverityHasher,
  type FsverityOptions,
} from './hasher.js';
export { fsverityDigestFile, fsverityDigestStream, formatFsverityLine } from './digest.js';
