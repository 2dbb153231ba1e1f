/** Image references: parsing, canonical form, enroot names. Layer 1, no I/O. */
export type { ImageReference, DockerReference, LayoutReference, PathReference, Transport } from './types.js';
export { TRANSPORTS } from './types.js';
export { parseReference, formatReference, enrootUri, isValidReference } from './parse.js';
export { enrootFileName, registryApiHost } from './enroot.js';
export {
  DOCKER_HUB,
  DOCKER_HUB_API,
  DEFAULT_TAG,
  NAME_TOTAL_LENGTH_MAX,
  digestProblem,
  tagProblem,
  repositoryProblem,
} from './grammar.js';
export { normalizeRegistry } from './docker.js';
