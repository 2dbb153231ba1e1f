/** registries.conf: mirrors, relocation, insecure and blocked registries. Layer 2. */
export { loadRegistriesConfig, findRegistriesConf, SYSTEM_REGISTRIES_CONF } from './load.js';
export type { LoadRegistriesOptions } from './load.js';
export { parseRegistriesConf } from './parse.js';
export type { ParsedRegistriesConf } from './parse.js';
export { createRegistriesConfig, prefixMatchLength } from './registries.js';
export type {
  RegistriesConfig,
  RegistriesSettings,
  RegistryEntry,
  MirrorEntry,
  PullFromMirror,
  Endpoint,
  EndpointOptions,
} from './registries.js';
