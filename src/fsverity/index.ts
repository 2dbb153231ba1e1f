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
export { fsverityDigestFileParallel, PARALLEL_MIN_BYTES, type ParallelTuning } from './parallel.js';

export { readPieces, closePieceFiles, piecesLength, type Piece, type FileRange, type ZeroRun, type BytesPiece } from './pieces.js';
