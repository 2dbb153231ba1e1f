/** Credentials for a registry, and the interface that finds them. */

/** Username/password (sent as Basic or exchanged for a token) or an OAuth2 refresh/identity token. */
export type Credential = { username: string; password: string } | { identityToken: string };

/** Finds the credential for a registry host. Secrets it returns must never be logged (docs/auth.md). */
export interface CredentialResolver {
  /**
   * The credential for `registryHost` (host[:port]; Docker Hub may be given as
   * docker.io, index.docker.io or registry-1.docker.io), or undefined for
   * anonymous access. `repository`, when given, lets auth.json entries keyed
   * `host/namespace[/repo]` match (most specific first).
   */
  get(registryHost: string, repository?: string): Promise<Credential | undefined>;
}

/** Where a credential came from, for progress messages (never the secret itself). */
export interface CredentialSource {
  /** e.g. '--creds', '/home/u/.docker/config.json', 'docker-credential-pass', '/home/u/.config/enroot/.credentials'. */
  source: string;
  credential: Credential;
}
