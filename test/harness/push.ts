/**
 * Pushes an OCI image layout (as written by image-builder.ts) to a registry
 * over plain HTTP, with our own minimal client (independent of
 * src/registry so tests do not check the client with itself).
 *
 * API (stable):
 *   await pushLayout(layoutDir, '127.0.0.1:PORT', 'library/test', 'v1', { auth: { username, password } });
 *     Pushes the single entry of index.json (an image manifest or an index and
 *     everything it references) under `tag`. Blobs go up with POST + one PUT
 *     (monolithic upload), children manifests by digest, the top one by tag.
 *     Handles Basic and Bearer (token) challenges. Returns the top digest.
 *   await pushManifest(host, repo, reference, bytes, mediaType, opts)  // a raw manifest PUT
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PushOptions {
  auth?: { username: string; password: string };
}

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}

/** Minimal authenticated fetch: retries once after answering a 401 challenge. */
class Session {
  private authorization: string | undefined;

  constructor(
    readonly hostName: string,
    private readonly repo: string,
    private readonly opts: PushOptions,
  ) {}

  async fetch(pathOrUrl: string, init: RequestInit = {}): Promise<Response> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : `http://${this.hostName}${pathOrUrl}`;
    const go = (): Promise<Response> => {
      const headers = new Headers(init.headers);
      if (this.authorization) headers.set('Authorization', this.authorization);
      return fetch(url, { ...init, headers, redirect: 'manual' });
    };
    let res = await go();
    if (res.status === 401) {
      await res.arrayBuffer();
      await this.authenticate(res.headers.get('www-authenticate') ?? '');
      res = await go();
    }
    return res;
  }

  private async authenticate(challenge: string): Promise<void> {
    const basic = this.opts.auth ? 'Basic ' + Buffer.from(`${this.opts.auth.username}:${this.opts.auth.password}`).toString('base64') : undefined;
    if (/^Basic/i.test(challenge)) {
      this.authorization = basic;
      return;
    }
    const params: Record<string, string> = {};
    for (const m of challenge.replace(/^Bearer\s+/i, '').matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
    const u = new URL(params.realm);
    if (params.service) u.searchParams.set('service', params.service);
    u.searchParams.set('scope', `repository:${this.repo}:pull,push`);
    const r = await fetch(u, { headers: basic ? { Authorization: basic } : {} });
    if (!r.ok) throw new Error(`token request failed: ${r.status}`);
    const body = (await r.json()) as { token?: string; access_token?: string };
    this.authorization = `Bearer ${body.token ?? body.access_token}`;
  }
}

async function check(res: Response, what: string, ok: number[]): Promise<void> {
  if (!ok.includes(res.status)) {
    throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  }
}

async function pushBlob(s: Session, repo: string, layoutDir: string, d: Desc): Promise<void> {
  const head = await s.fetch(`/v2/${repo}/blobs/${d.digest}`, { method: 'HEAD' });
  if (head.status === 200) return;
  const start = await s.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await check(start, `start upload of ${d.digest}`, [202]);
  const target = new URL(start.headers.get('location') ?? '', `http://${s.hostName}`);
  target.searchParams.set('digest', d.digest);
  const bytes = await readFile(join(layoutDir, 'blobs', ...d.digest.split(':')));
  const url = target.toString();
  const put = await s.fetch(url, {
    method: 'PUT',
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) },
  });
  await check(put, `upload of ${d.digest}`, [201]);
}

/** PUTs raw manifest bytes under `reference` (tag or digest). */
export async function pushManifest(host: string, repo: string, reference: string, bytes: Uint8Array, mediaType: string, opts: PushOptions = {}): Promise<void> {
  const s = new Session(host, repo, opts);
  const res = await s.fetch(`/v2/${repo}/manifests/${reference}`, { method: 'PUT', body: new Uint8Array(bytes), headers: { 'Content-Type': mediaType } });
  await check(res, `manifest ${repo}:${reference}`, [201]);
}

async function pushTree(s: Session, repo: string, layoutDir: string, d: Desc, reference: string): Promise<void> {
  const bytes = await readFile(join(layoutDir, 'blobs', ...d.digest.split(':')));
  const doc = JSON.parse(bytes.toString('utf8')) as { manifests?: Desc[]; config?: Desc; layers?: Desc[] };
  if (doc.manifests) {
    for (const m of doc.manifests) await pushTree(s, repo, layoutDir, m, m.digest);
  } else {
    for (const b of [doc.config!, ...(doc.layers ?? [])]) await pushBlob(s, repo, layoutDir, b);
  }
  const res = await s.fetch(`/v2/${repo}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'Content-Type': d.mediaType } });
  await check(res, `manifest ${repo}:${reference}`, [201]);
}

/** Pushes the single entry of `layoutDir`/index.json under `tag`; returns its digest. */
export async function pushLayout(layoutDir: string, host: string, repo: string, tag: string, opts: PushOptions = {}): Promise<string> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: Desc[] };
  if (index.manifests.length !== 1) throw new Error(`${layoutDir}/index.json has ${index.manifests.length} entries, expected 1`);
  const s = new Session(host, repo, opts);
  await pushTree(s, repo, layoutDir, index.manifests[0], tag);
  return index.manifests[0].digest;
}
