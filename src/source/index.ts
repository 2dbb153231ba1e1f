/** Image sources (layer 5): registry, OCI layout, OCI archive, docker archive, and the store offline. */
export { resolveImage, fetchLayers, startFetch, pullImage, recordImage, type LayerFetch } from './resolve.js';
export type { ResolvedImage, SourceOptions } from './types.js';
export { SOURCE_DEFAULT_JOBS } from './types.js';
export { storeRefName } from './names.js';
