/** EROFS writers (layer 8): composefs images and plain EROFS images. See docs/erofs.md, docs/composefs.md. */
export { writeComposefs, type ComposefsOptions, type ComposefsResult } from './composefs.js';
export { writeErofs, MAX_SPARSE_CHUNKS, type ErofsOptions, type ErofsResult } from './plain.js';
