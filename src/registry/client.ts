/**
 * The OCI distribution client (distribution-spec v1.1 "Pull"): manifests by
 * tag or digest, blobs with Range resume, over Node's fetch. Mirrors from
 * registries.conf are tried first, then the origin. See docs/registry.md.
 */
import { Oci2fsError, ErrorCode } from '../errors.js';
import { silent } from '../events.js';
import type { ProgressListener } from '../events.js';
import type { CredentialResolver } from '../auth/index.js';
import { scopeFor } from '../auth/index.js';
import type { RegistriesConfig, Endpoint } from '../config/index.js';
import { registryApiHost } from '../reference/index.js';
import {
  MANIFEST_ACCEPT,
  MANIFEST_MAX_BYTES,
  parseDigest,
  parseManifestDocument,
  digestWithAlgorithmOf,
  sha256Digest,
  baseMediaType,
} from '../image/index.js';
import type { ManifestDocument } from '../image/index.js';
import { resolvePolicy } from './retry.js';
import type { RetryPolicy } from './retry.js';
import { Transport, describeNetworkError, displayUrl } from './transport.js';
import { discardBody, speaksTls, type RegistryResponse } from './http.js';
import type { AuthTarget } from './auth.js';

/** A repository on a registry, as named in the image reference (docker.io, not registry-1.docker.io). */
export interface RegistryLocation {
  registry: string;
  repository: string;
}

export interface RegistryClientOptions {
  credentials?: CredentialResolver;
  config?: RegistriesConfig;
  /** host[:port] entries reached over plain HTTP (--insecure-registry). */
  insecureRegistries?: string[];
  events?: ProgressListener;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
}

export interface ManifestResult {
  bytes: Uint8Array;
  /** The document's media type (OCI/Docker manifest or index). */
  mediaType: string;
  /** Digest of `bytes` (verified against the reference or Docker-Content-Digest). */
  digest: string;
  /** The parsed, validated document. */
  document: ManifestDocument;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface BlobStream {
  body: AsyncIterable<Uint8Array>;
  /** Offset of the first byte of `body`: the requested offset, or 0 when the server ignored Range. */
  start: number;
  /** Total size of the blob when the server said (Content-Range total, or Content-Length of a 200). */
  size?: number;
  /** Closes the connection when the body will not be read (to its end). */
  cancel: () => void;
}

export const DEFAULT_USER_AGENT = 'oci2fs/0.1';

/** distribution-spec tag grammar. */
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** `bytes FIRST-LAST/TOTAL` (RFC 9110 §14.4). */
const CONTENT_RANGE_RE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

function formatRef(loc: RegistryLocation, reference: string): string {
  return `${loc.registry}/${loc.repository}${isDigestReference(reference) ? '@' : ':'}${reference}`;
}

/** Wraps a fetch body so stream failures surface as E_NETWORK. */
async function* networkSafe(res: RegistryResponse, what: string): AsyncGenerator<Uint8Array> {
  const body = res.body as AsyncIterable<Uint8Array> | null;
  if (!body) return;
  try {
    for await (const c of body) yield c;
  } catch (e) {
    throw new Oci2fsError(ErrorCode.NETWORK, `Download of ${what} was interrupted: ${describeNetworkError(e)}; it can be resumed`, { cause: e });
  }
}

export class RegistryClient {
  private readonly transport: Transport;
  private readonly config?: RegistriesConfig;
  private readonly insecure: Set<string>;
  private readonly events: ProgressListener;
  /** Scheme per insecure registry host, probed once (see schemeOf). */
  private readonly schemes = new Map<string, Promise<'https' | 'http'>>();
  /** Mirrors that failed with E_NETWORK: skipped for the rest of this client's life. */
  private readonly deadMirrors = new Set<string>();

  constructor(opts: RegistryClientOptions = {}) {
    this.config = opts.config;
    this.insecure = new Set(opts.insecureRegistries ?? []);
    this.events = opts.events ?? silent;
    this.transport = new Transport(resolvePolicy(opts.retry), this.events, opts.userAgent ?? DEFAULT_USER_AGENT, opts.credentials);
  }

  /** Endpoints to try, mirrors first (from registries.conf), origin last. */
  private endpoints(loc: RegistryLocation, byDigest: boolean): Endpoint[] {
    const eps = this.config?.endpoints(loc.registry, loc.repository, { byDigest }) ?? [];
    return eps.length ? eps : [{ host: loc.registry, repository: loc.repository, insecure: false, mirror: false }];
  }

  private isInsecure(ep: Endpoint): boolean {
    const api = registryApiHost(ep.host);
    return ep.insecure || this.insecure.has(ep.host) || this.insecure.has(api) || (this.config?.isInsecure(ep.host) ?? false);
  }

  /**
   * The scheme of a registry: https; for an insecure one, https with its
   * certificate unverified when it speaks TLS, else plain http (probed once).
   */
  private schemeOf(apiHost: string, insecure: boolean): Promise<'https' | 'http'> {
    if (!insecure) return Promise.resolve('https');
    let s = this.schemes.get(apiHost);
    if (!s) {
      s = speaksTls(apiHost).then((tls) => {
        if (!tls) return 'http';
        this.transport.unverifiedTls.add(apiHost);
        return 'https';
      });
      this.schemes.set(apiHost, s);
    }
    return s;
  }

  private async target(ep: Endpoint): Promise<{ t: AuthTarget; base: string }> {
    const apiHost = registryApiHost(ep.host);
    const insecure = this.isInsecure(ep);
    const scheme = await this.schemeOf(apiHost, insecure);
    return {
      t: { apiHost, credHost: ep.host, repository: ep.repository, scope: scopeFor(ep.repository), insecure: insecure && scheme === 'http' },
      base: `${scheme}://${apiHost}/v2/${ep.repository}`,
    };
  }

  /** Runs `fn` on each endpoint until one succeeds; a failing mirror falls back to the next. */
  private async tryEndpoints<T>(loc: RegistryLocation, byDigest: boolean, fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    const all = this.endpoints(loc, byDigest);
    const alive = all.filter((ep) => !ep.mirror || !this.deadMirrors.has(ep.host));
    const eps = alive.length ? alive : all;
    for (let i = 0; ; i++) {
      const ep = eps[i];
      try {
        return await fn(ep);
      } catch (e) {
        if (i === eps.length - 1 || !(e instanceof Oci2fsError)) throw e;
        if (ep.mirror && e.code === ErrorCode.NETWORK) this.deadMirrors.add(ep.host);
        this.events({ type: 'warning', code: e.code, message: `${ep.mirror ? 'Mirror' : 'Endpoint'} ${ep.host}/${ep.repository} failed (${e.message}); trying ${eps[i + 1].host}` });
      }
    }
  }

  /** Maps a non-2xx status to an Oci2fsError. */
  private async statusError(res: RegistryResponse, t: AuthTarget, what: string, url: string): Promise<Oci2fsError> {
    let detail = '';
    try {
      const text = (await res.text()).slice(0, 2000);
      const errs = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
      detail = errs.map((x) => [x.code, x.message].filter(Boolean).join(': ')).join('; ').slice(0, 300);
    } catch {
      // not a distribution error body
    }
    detail = detail ? ` (${await this.transport.auth.redact(t, detail)})` : '';
    const from = `HTTP ${res.status} from ${displayUrl(url)}`;
    if (res.status === 401 || res.status === 403) {
      const cred = await this.transport.auth.credential(t);
      const hint = cred
        ? 'the credentials were refused or lack pull access; check them'
        : 'no credentials were found; use --creds or docker login (some registries also answer this way for repositories that do not exist)';
      return new Oci2fsError(ErrorCode.AUTH, `Access to ${what} denied: ${from}${detail}; ${hint}`);
    }
    if (res.status === 404) return new Oci2fsError(ErrorCode.NOT_FOUND, `${what} not found: ${from}${detail}`);
    return new Oci2fsError(ErrorCode.REGISTRY, `Unexpected ${from} for ${what}${detail}`);
  }

  /**
   * Fetches a manifest or index by tag or digest. By digest the bytes are
   * verified; by tag their sha256 is computed (and checked against
   * Docker-Content-Digest when the registry sends it). The document is
   * parsed: schema 1 fails with E_UNSUPPORTED, junk with E_MANIFEST_INVALID.
   */
  async getManifest(loc: RegistryLocation, reference: string): Promise<ManifestResult> {
    const byDigest = this.checkReference(loc, reference);
    const what = `manifest ${formatRef(loc, reference)}`;
    return this.tryEndpoints(loc, byDigest, async (ep) => {
      const { t, base } = await this.target(ep);
      const url = `${base}/manifests/${reference}`;
      const { res, bytes } = await this.transport.sendAndRead(t, url, { method: 'GET', headers: { Accept: MANIFEST_ACCEPT, 'Accept-Encoding': 'identity' } }, MANIFEST_MAX_BYTES, what);
      if (res.status !== 200) throw await this.statusError(res, t, what, url);
      const digest = byDigest ? digestWithAlgorithmOf(reference, bytes) : sha256Digest(bytes);
      if (byDigest && digest !== reference) {
        throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `${what} from ${ep.host}: content hashes to ${digest}; the registry served wrong or corrupt data`);
      }
      const header = res.headers.get('docker-content-digest');
      if (header && !byDigest) {
        let expected: string | undefined;
        try {
          parseDigest(header);
          expected = header;
        } catch {
          expected = undefined; // an unusable header is ignored, the computed digest stands
        }
        if (expected && digestWithAlgorithmOf(expected, bytes) !== expected) {
          throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `${what} from ${ep.host}: content does not match its Docker-Content-Digest ${expected}; corrupt in transit?`);
        }
      }
      const contentType = res.headers.get('content-type') ?? undefined;
      const document = parseManifestDocument(bytes, contentType);
      const mediaType = document.kind === 'manifest' ? document.manifest.mediaType : document.index.mediaType;
      return { bytes, mediaType, digest, document };
    });
  }

  /**
   * HEAD of a manifest: digest, media type and size without the body, or
   * undefined when the registry does not have it. Falls back to GET when the
   * registry omits Docker-Content-Digest on HEAD.
   */
  async headManifest(loc: RegistryLocation, reference: string): Promise<ManifestHead | undefined> {
    const byDigest = this.checkReference(loc, reference);
    const what = `manifest ${formatRef(loc, reference)}`;
    try {
      return await this.tryEndpoints(loc, byDigest, async (ep) => {
        const { t, base } = await this.target(ep);
        const url = `${base}/manifests/${reference}`;
        const res = await this.transport.send(t, url, { method: 'HEAD', headers: { Accept: MANIFEST_ACCEPT } });
        if (res.status !== 200) {
          // HEAD responses have no body to explain themselves
          throw await this.statusError(res, t, what, url);
        }
        const digest = res.headers.get('docker-content-digest');
        const size = Number(res.headers.get('content-length') ?? NaN);
        const ct = res.headers.get('content-type');
        if (!digest || Number.isNaN(size) || !ct) {
          const m = await this.getManifest({ registry: loc.registry, repository: loc.repository }, reference);
          return { digest: m.digest, mediaType: m.mediaType, size: m.bytes.length };
        }
        parseDigest(digest, `Docker-Content-Digest of ${what}`);
        if (byDigest && digest !== reference) {
          throw new Oci2fsError(ErrorCode.DIGEST_MISMATCH, `${what}: the registry reports digest ${digest}`);
        }
        return { digest, mediaType: baseMediaType(ct), size };
      });
    } catch (e) {
      if (e instanceof Oci2fsError && e.code === ErrorCode.NOT_FOUND) return undefined;
      throw e;
    }
  }

  /**
   * Opens a blob for streaming from `offset` (Range: bytes=offset-). The
   * body is not verified here: the caller hashes what it stores. `start`
   * tells where the body really begins (0 if the server ignored Range).
   * Interruptions while reading the body throw E_NETWORK; resume with a new
   * openBlob at the offset reached.
   */
  async openBlob(loc: RegistryLocation, digest: string, offset = 0): Promise<BlobStream> {
    parseDigest(digest, `blob digest for ${loc.registry}/${loc.repository}`);
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new Oci2fsError(ErrorCode.INTERNAL, `openBlob: invalid offset ${offset}`);
    }
    const what = `blob ${loc.registry}/${loc.repository}@${digest}`;
    return this.tryEndpoints(loc, true, async (ep) => {
      const { t, base } = await this.target(ep);
      const url = `${base}/blobs/${digest}`;
      // identity: fetch would otherwise undo a Content-Encoding and shift Range offsets and digests
      const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      const res = await this.transport.send(t, url, { method: 'GET', headers, bulk: true });
      if (res.status === 200) {
        const len = Number(res.headers.get('content-length') ?? NaN);
        return { body: networkSafe(res, what), start: 0, ...(Number.isNaN(len) ? {} : { size: len }), cancel: () => void discardBody(res) };
      }
      if (res.status === 206 && offset > 0) {
        const m = CONTENT_RANGE_RE.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== offset) {
          await discardBody(res);
          throw new Oci2fsError(ErrorCode.REGISTRY, `${what}: asked for bytes from ${offset}, the registry answered Content-Range ${JSON.stringify(res.headers.get('content-range'))}`);
        }
        return { body: networkSafe(res, what), start: offset, ...(m[3] === '*' ? {} : { size: Number(m[3]) }), cancel: () => void discardBody(res) };
      }
      throw await this.statusError(res, t, what, url);
    });
  }

  /** Validates a tag or digest reference; returns true for digests. */
  private checkReference(loc: RegistryLocation, reference: string): boolean {
    if (isDigestReference(reference)) {
      parseDigest(reference, `digest of ${loc.registry}/${loc.repository}`);
      return true;
    }
    if (!TAG_RE.test(reference)) {
      throw new Oci2fsError(ErrorCode.REFERENCE_INVALID, `Invalid tag ${JSON.stringify(reference)} for ${loc.registry}/${loc.repository}`);
    }
    return false;
  }
}
