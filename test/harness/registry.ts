/**
 * Runs the real `docker-registry` (distribution 2.8, Debian package) on a
 * free loopback port for integration tests, fronted by a fault proxy that
 * counts requests and can inject faults.
 *
 * API (stable):
 *
 *   const reg = await startRegistry();                     // anonymous
 *   const reg = await startRegistry({ auth: 'basic' });    // htpasswd; reg.users = { tester: '...' }
 *   const reg = await startRegistry({ auth: 'token', anonymousPull: true });
 *   reg.host          // '127.0.0.1:PORT' of the proxy: use this as the registry host
 *   reg.url           // 'http://' + host
 *   reg.registryHost  // the registry itself, bypassing the proxy
 *   reg.proxy         // FaultProxy: .count(path, method), .addFault(rule), .requests
 *   reg.tokenServer   // TokenServer when auth === 'token'
 *   reg.users         // username → password accepted by basic/token auth
 *   reg.logs()        // the registry's stderr (last 64 KiB), for failure messages
 *   await reg.stop(); // kills the registry, removes its storage
 *
 * The registry speaks plain HTTP: clients must treat reg.host as insecure.
 * Registries still running when the process exits are killed.
 */
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy } from './fault-proxy.js';
import type { FaultProxy } from './fault-proxy.js';
import { startTokenServer } from './token-server.js';
import type { TokenServer } from './token-server.js';

export interface StartRegistryOptions {
  auth?: 'none' | 'basic' | 'token';
  /** username → password. Default { tester: 'secret-pass-123' } when auth is not 'none'. */
  users?: Record<string, string>;
  /** Token auth only: anonymous callers may pull. Default false. */
  anonymousPull?: boolean;
  /** Token auth only: token lifetime in seconds. Default 300. */
  tokenTtlSeconds?: number;
  /**
   * Serve HTTPS with a fresh self-signed certificate (for 127.0.0.1; its PEM
   * is `certPath`). The fault proxy speaks plain HTTP, so `host` is then the
   * registry itself and `proxy` forwards plain HTTP to nothing useful.
   */
  tls?: boolean;
}

export interface TestRegistry {
  host: string;
  /** With `tls`: the self-signed certificate (PEM) the registry serves. */
  certPath?: string;
  url: string;
  registryHost: string;
  proxy: FaultProxy;
  tokenServer?: TokenServer;
  users: Record<string, string>;
  logs(): string;
  stop(): Promise<void>;
}

/** How long to wait for the registry to answer /v2/. */
const STARTUP_TIMEOUT_MS = 20_000;
const LOG_KEEP_BYTES = 64 * 1024;

/** Runs docker-registry serve $1 and kills it when stdin reaches EOF (our stop(), or our death). */
const WATCHDOG = 'docker-registry serve "$1" & p=$!; read _ignored; kill $p 2>/dev/null; wait $p';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.stdin?.destroy();
  });
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** GET https://host/v2/ without verifying the (self-signed) certificate. */
function httpsPing(host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(`https://${host}/v2/`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
  });
}

async function waitUntilUp(host: string, child: ChildProcess, logs: () => string, tls: boolean): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}:\n${logs()}`);
    try {
      if (tls) {
        await httpsPing(host);
        return;
      }
      const r = await fetch(`http://${host}/v2/`);
      await r.arrayBuffer();
      // Only the registry sends this header: anything else on the port is not it.
      if (r.headers.get('docker-distribution-api-version') === null) throw new Error(`something else answers on ${host}`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`docker-registry did not answer on ${host} within ${STARTUP_TIMEOUT_MS} ms:\n${logs()}`);
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const users = opts.users ?? (auth === 'none' ? {} : { tester: 'secret-pass-123' });
  const dir = mkdtempSync(join(tmpdir(), 'oci2fs-registry-'));
  let tokenServer: TokenServer | undefined;
  let authYaml = '';
  if (auth === 'basic') {
    const lines = Object.entries(users)
      .map(([u, p]) => execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim())
      .join('\n');
    writeFileSync(join(dir, 'htpasswd'), lines + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: oci2fs-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth === 'token') {
    tokenServer = await startTokenServer({ users, anonymousPull: opts.anonymousPull, ttlSeconds: opts.tokenTtlSeconds });
    authYaml =
      `auth:\n  token:\n    realm: ${tokenServer.realm}\n    service: ${tokenServer.service}\n` +
      `    issuer: ${tokenServer.issuer}\n    rootcertbundle: ${tokenServer.certPath}\n`;
  }
  // The port is picked after the token server is listening: picked before,
  // the token server (listening on port 0) could be handed the same, just
  // released port, and answer in the registry's place.
  const port = await freePort();
  const registryHost = `127.0.0.1:${port}`;
  let tlsYaml = '';
  const certPath = join(dir, 'cert.pem');
  if (opts.tls) {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=oci2fs-test',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', certPath,
    ], { stdio: 'ignore' });
    tlsYaml = `  tls:\n    certificate: ${certPath}\n    key: ${join(dir, 'key.pem')}\n`;
  }
  const config =
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n` +
    `http:\n  addr: ${registryHost}\n  secret: oci2fs-test-secret\n` +
    tlsYaml +
    authYaml;
  writeFileSync(join(dir, 'config.yml'), config);

  installExitHook();
  // A watchdog shell: it kills the registry when its stdin closes, which also
  // happens when this process dies without running exit hooks (SIGKILL, crash).
  const child = spawn('sh', ['-c', WATCHDOG, 'oci2fs-registry', join(dir, 'config.yml')], { stdio: ['pipe', 'ignore', 'pipe'] });
  live.add(child);
  let log = '';
  child.stderr!.on('data', (c: Buffer) => {
    log = (log + c.toString('utf8')).slice(-LOG_KEEP_BYTES);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const logs = (): string => log;

  let proxy: FaultProxy | undefined;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin!.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    live.delete(child);
    await proxy?.stop();
    await tokenServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(registryHost, child, logs, opts.tls === true);
    proxy = await startFaultProxy(registryHost);
  } catch (e) {
    await stop();
    throw e;
  }
  if (opts.tls) return { host: registryHost, url: `https://${registryHost}`, certPath, registryHost, proxy, tokenServer, users, logs, stop };
  return { host: proxy.host, url: proxy.url, registryHost, proxy, tokenServer, users, logs, stop };
}
