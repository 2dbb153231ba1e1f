/** Registry credentials and auth challenges. Layer 2. See docs/auth.md. */
export type { Credential, CredentialResolver, CredentialSource } from './types.js';
export { createCredentialResolver, credentialSources } from './resolver.js';
export type { CredentialResolverOptions, DetailedCredentialResolver } from './resolver.js';
export { parseWwwAuthenticate, scopeFor } from './challenge.js';
export type { Challenge } from './challenge.js';
export { redactSecrets, secretsOf, REDACTED } from './redact.js';
export { canonicalHost } from './authfile.js';
