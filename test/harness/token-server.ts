/**
 * A Docker token-protocol server (distribution docs/spec/auth/token.md and
 * oauth.md) for tests, in front of a docker-registry configured with
 * `auth: token:`. It signs ES256 JWTs with a throw-away key whose self-signed
 * certificate is the registry's `rootcertbundle`; the JWT header names the
 * key with `kid` = libtrust key ID (the registry matches it against the keys
 * of the bundle's certificates).
 *
 * API (stable):
 *   const ts = await startTokenServer({ users: { alice: 'pw' }, anonymousPull: false });
 *   ts.realm, ts.service, ts.issuer, ts.certPath  // for the registry config
 *   ts.requests                                  // TokenRequest[] (no secrets)
 *   ts.expireNext(n)   // the next n tokens are already expired (registry answers 401)
 *   ts.denyNext(n)     // the next n tokens grant nothing (registry answers 401)
 *   ts.identityToken(user)  // a refresh token usable with grant_type=refresh_token
 *   await ts.stop();
 *
 * GET  realm?service=S&scope=repository:R:pull[&scope=...]  (Basic auth optional)
 * POST realm  form: grant_type=password|refresh_token, service, scope, username,
 *             password | refresh_token, [access_type=offline]
 * Authenticated users get pull+push on everything; anonymous callers get pull
 * only when `anonymousPull` is set, otherwise a token with no access.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TokenRequest {
  method: 'GET' | 'POST';
  scopes: string[];
  /** The account the caller authenticated as, if any. */
  account?: string;
  grantType?: string;
  /** Outcome: 200 or 401. */
  status: number;
}

export interface TokenServer {
  url: string;
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  requests: TokenRequest[];
  expireNext(n: number): void;
  denyNext(n: number): void;
  identityToken(user: string): string;
  stop(): Promise<void>;
}

export interface TokenServerOptions {
  users?: Record<string, string>;
  anonymousPull?: boolean;
  /** expires_in we announce and put in `exp` (seconds). Default 300. */
  ttlSeconds?: number;
}

/** libtrust key ID: base32 of the first 240 bits of SHA-256(DER SubjectPublicKeyInfo), in ':'-separated groups of 4. */
export function libtrustKeyId(publicKeyDer: Buffer): string {
  const h = createHash('sha256').update(publicKeyDer).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of h) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

interface Access {
  type: string;
  name: string;
  actions: string[];
}

function parseScopes(scopes: string[], allowed: string[]): Access[] {
  const out: Access[] = [];
  for (const s of scopes) {
    const parts = s.split(':');
    if (parts.length < 3) continue;
    const actions = parts[parts.length - 1].split(',').filter((a) => allowed.includes(a));
    out.push({ type: parts[0], name: parts.slice(1, -1).join(':'), actions });
  }
  return out;
}

/** Generates a P-256 key and a self-signed certificate with openssl. */
function makeKeyAndCert(dir: string): { key: KeyObject; certPath: string } {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '3650', '-subj', '/CN=oci2fs-test-token-issuer',
  ], { stdio: 'ignore' });
  return { key: createPrivateKey(readFileSync(keyPath)), certPath };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const users = opts.users ?? {};
  const ttl = opts.ttlSeconds ?? 300;
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-token-'));
  const { key, certPath } = makeKeyAndCert(dir);
  const kid = libtrustKeyId(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  const service = 'oci2fs-test-registry';
  const issuer = 'oci2fs-test-token-issuer';
  const requests: TokenRequest[] = [];
  const refreshTokens = new Map<string, string>();
  let expire = 0;
  let deny = 0;

  function jwt(account: string | undefined, access: Access[]): string {
    const now = Math.floor(Date.now() / 1000);
    let exp = now + ttl;
    if (expire > 0) {
      expire--;
      exp = now - 600; // beyond the registry's 60 s clock-skew leeway
    }
    if (deny > 0) {
      deny--;
      access = [];
    }
    const header = { typ: 'JWT', alg: 'ES256', kid };
    const claims = { iss: issuer, sub: account ?? '', aud: service, exp, nbf: now - 5, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(sig)}`;
  }

  function reply(res: ServerResponse, status: number, body: unknown): void {
    const b = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') return reply(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
    let account: string | undefined;
    let ok = true;
    let scopes = url.searchParams.getAll('scope');
    let grantType: string | undefined;
    let offline = false;
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      grantType = form.get('grant_type') ?? undefined;
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      offline = form.get('access_type') === 'offline';
      if (grantType === 'password') {
        const u = form.get('username') ?? '';
        ok = users[u] !== undefined && users[u] === form.get('password');
        account = u;
      } else if (grantType === 'refresh_token') {
        account = refreshTokens.get(form.get('refresh_token') ?? '');
        ok = account !== undefined;
      } else {
        ok = false;
      }
    } else {
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        const dec = Buffer.from(auth.slice(6), 'base64').toString('utf8');
        const i = dec.indexOf(':');
        const [u, p] = [dec.slice(0, i), dec.slice(i + 1)];
        ok = users[u] !== undefined && users[u] === p;
        account = u;
      }
    }
    const method = req.method === 'POST' ? 'POST' : 'GET';
    if (!ok) {
      requests.push({ method, scopes, grantType, status: 401, ...(account ? { account } : {}) });
      return reply(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] });
    }
    const allowed = account !== undefined ? ['pull', 'push'] : opts.anonymousPull ? ['pull'] : [];
    const token = jwt(account, parseScopes(scopes, allowed));
    requests.push({ method, scopes, grantType, status: 200, ...(account ? { account } : {}) });
    const body: Record<string, unknown> = { token, access_token: token, expires_in: ttl, issued_at: new Date().toISOString() };
    if (method === 'POST' && offline && account) body.refresh_token = identityToken(account);
    reply(res, 200, body);
  }

  function identityToken(user: string): string {
    const t = `idt-${randomBytes(12).toString('hex')}`;
    refreshTokens.set(t, user);
    return t;
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certPath,
    requests,
    expireNext(n) {
      expire = n;
    },
    denyNext(n) {
      deny = n;
    },
    identityToken,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
