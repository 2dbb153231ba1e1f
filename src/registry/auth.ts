/**
 * Registry authentication state for one client: answers 401 challenges
 * (distribution docs/spec/auth/token.md and oauth.md; RFC 7617 Basic),
 * fetches and caches bearer tokens per (host, scope), and remembers hosts
 * that want Basic. Secrets never leave this file except in Authorization
 * headers. See docs/registry.md "Authentication".
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { parseWwwAuthenticate, redactSecrets, secretsOf } from '../auth/index.js';
import type { Credential, CredentialResolver } from '../auth/index.js';
import type { RegistryResponse } from './http.js';

/** Token lifetime assumed when the token response omits expires_in (token.md: "defaults to 60 seconds"). */
export const DEFAULT_TOKEN_TTL_S = 60;
/** Tokens are dropped this long before they expire, to absorb clock skew and transfer time. */
export const TOKEN_EXPIRY_MARGIN_MS = 10_000;
/** The client_id we send with OAuth2 token requests (oauth.md requires one). */
export const OAUTH_CLIENT_ID = 'oci2fs';
/** Largest token response we read. */
const TOKEN_RESPONSE_MAX_BYTES = 1 << 20;

/** Where a request goes, for auth purposes. */
export interface AuthTarget {
  /** host[:port] actually connected to (after registryApiHost). */
  apiHost: string;
  /** host[:port] as configured, for credential lookup (docker.io, not registry-1.docker.io). */
  credHost: string;
  repository: string;
  /** Token scope, e.g. repository:library/alpine:pull. */
  scope: string;
  /** Plain HTTP registry: credentials may go to an http:// realm. */
  insecure: boolean;
}

/** Performs an HTTP request with retries (supplied by the transport). */
export type Fetcher = (url: string, init: { method: string; headers?: Record<string, string>; body?: string }) => Promise<RegistryResponse>;

interface CachedToken {
  header: string;
  expiresAt: number;
}

async function readLimitedText(res: RegistryResponse, limit: number): Promise<string> {
  const buf = await res.arrayBuffer();
  return Buffer.from(buf, 0, Math.min(buf.byteLength, limit)).toString('utf8');
}

export class AuthSession {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly basic = new Map<string, string>();
  private readonly creds = new Map<string, Promise<Credential | undefined>>();
  /** Token fetches in flight, so concurrent 401s for one (host, scope) share one token request. */
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly resolver: CredentialResolver | undefined,
    private readonly fetcher: Fetcher,
  ) {}

  /** The Authorization header to send first, if we already know one. */
  authorization(t: AuthTarget): string | undefined {
    const tok = this.tokens.get(`${t.apiHost} ${t.scope}`);
    if (tok && tok.expiresAt > Date.now()) return tok.header;
    return this.basic.get(t.apiHost);
  }

  /** The credential for the target (looked up once per host and repository). */
  credential(t: AuthTarget): Promise<Credential | undefined> {
    const key = `${t.credHost} ${t.repository}`;
    let p = this.creds.get(key);
    if (!p) {
      p = this.resolver ? this.resolver.get(t.credHost, t.repository) : Promise.resolve(undefined);
      this.creds.set(key, p);
    }
    return p;
  }

  /** Forgets the cached token for the target (it was refused). */
  invalidate(t: AuthTarget): void {
    this.tokens.delete(`${t.apiHost} ${t.scope}`);
  }

  /**
   * Reacts to a 401 carrying `wwwAuthenticate`: obtains a token (Bearer) or
   * arms Basic. Returns true when a retry with the new Authorization makes
   * sense, false when it cannot help (no credentials, unknown scheme, Basic
   * already sent). Throws E_AUTH when the token service refuses.
   */
  async answerChallenge(t: AuthTarget, wwwAuthenticate: string | null, sent: string | undefined): Promise<boolean> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const key = `${t.apiHost} ${t.scope}`;
      const cached = this.tokens.get(key);
      // another request already replaced the token we sent: use the new one
      if (cached && cached.header !== sent && cached.expiresAt > Date.now()) return true;
      let p = this.pending.get(key);
      if (!p) {
        this.invalidate(t);
        p = this.fetchToken(t, bearer.params.realm, bearer.params.service).finally(() => this.pending.delete(key));
        this.pending.set(key, p);
      }
      const fresh = await p;
      this.tokens.set(key, fresh);
      return fresh.header !== sent;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      const cred = await this.credential(t);
      if (!cred || 'identityToken' in cred) return false;
      const header = 'Basic ' + Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64');
      if (header === sent) return false;
      this.basic.set(t.apiHost, header);
      return true;
    }
    return false;
  }

  private async fetchToken(t: AuthTarget, realm: string, service: string | undefined): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new Oci2fsError(ErrorCode.REGISTRY, `Registry ${t.apiHost} sent an auth challenge with an invalid realm URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new Oci2fsError(ErrorCode.REGISTRY, `Registry ${t.apiHost} sent an auth realm with unsupported scheme ${url.protocol}`);
    }
    const cred = await this.credential(t);
    if (cred && url.protocol === 'http:' && !t.insecure) {
      throw new Oci2fsError(
        ErrorCode.AUTH,
        `Refusing to send credentials for ${t.credHost} to the plain-HTTP token service ${url.host}; mark the registry insecure (--insecure-registry) only if you trust the network`,
      );
    }
    let res: RegistryResponse;
    if (cred && 'identityToken' in cred) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: OAUTH_CLIENT_ID, scope: t.scope });
      if (service) form.set('service', service);
      res = await this.fetcher(url.toString(), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
    } else {
      if (service) url.searchParams.set('service', service);
      url.searchParams.set('scope', t.scope);
      const headers: Record<string, string> = {};
      if (cred) headers.Authorization = 'Basic ' + Buffer.from(`${cred.username}:${cred.password}`, 'utf8').toString('base64');
      res = await this.fetcher(url.toString(), { method: 'GET', headers });
    }
    const text = await readLimitedText(res, TOKEN_RESPONSE_MAX_BYTES);
    const who = `${t.credHost}/${t.repository}`;
    if (res.status === 401 || res.status === 403) {
      throw new Oci2fsError(
        ErrorCode.AUTH,
        cred
          ? `Authentication for ${who} failed: the token service ${url.host} rejected the configured credentials (HTTP ${res.status}); check the username/password or log in again`
          : `Authentication for ${who} failed: the token service ${url.host} refused anonymous access (HTTP ${res.status}); provide credentials (--creds or docker login)`,
      );
    }
    if (res.status < 200 || res.status > 299) {
      throw new Oci2fsError(ErrorCode.REGISTRY, `Token service ${url.host} answered HTTP ${res.status} for ${who}`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Oci2fsError(ErrorCode.REGISTRY, `Token service ${url.host} sent a response that is not JSON for ${who}`);
    }
    const token = typeof body.token === 'string' && body.token ? body.token : body.access_token;
    if (typeof token !== 'string' || !token) {
      throw new Oci2fsError(ErrorCode.REGISTRY, `Token service ${url.host} sent no token for ${who}`);
    }
    const ttlS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_TOKEN_TTL_S;
    const ttlMs = ttlS * 1000;
    const margin = Math.min(TOKEN_EXPIRY_MARGIN_MS, ttlMs / 2);
    return { header: `Bearer ${token}`, expiresAt: Date.now() + ttlMs - margin };
  }

  /** Removes every secret we might hold from `text` (for error messages built from server bodies). */
  async redact(t: AuthTarget, text: string): Promise<string> {
    const secrets = secretsOf(await this.credential(t));
    for (const v of this.tokens.values()) secrets.push(v.header.slice(7));
    return redactSecrets(text, secrets);
  }
}
