/** The OCI distribution client. Layer 3. See docs/registry.md. */
export { RegistryClient, DEFAULT_USER_AGENT } from './client.js';
export type { RegistryClientOptions, RegistryLocation, ManifestResult, ManifestHead, BlobStream } from './client.js';
export { DEFAULT_RETRY_POLICY, RETRYABLE_STATUSES, parseRetryAfter, backoffDelay, resolvePolicy } from './retry.js';
export type { RetryPolicy } from './retry.js';
