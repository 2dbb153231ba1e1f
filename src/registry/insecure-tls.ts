/**
 * Registries marked insecure (--insecure-registry, `insecure = true` in
 * registries.conf) the way Docker and containers/image treat them: HTTPS
 * first, with the certificate not verified (self-signed, private CA), and
 * plain HTTP only when the server does not speak TLS at all. Certificates of
 * every other registry are verified as usual.
 */
import { request, Agent } from 'node:https';
import { connect } from 'node:tls';
import { Readable } from 'node:stream';

/** How long the TLS probe of an insecure registry may take before we decide. */
export const TLS_PROBE_TIMEOUT_MS = 5000;

/** Keep-alive connections to insecure HTTPS registries, certificates not verified. */
let agent: Agent | undefined;

/** host[:port] → [host, port] (port 443 by default; IPv6 literals in brackets). */
function hostPort(host: string): { hostname: string; port: number } {
  const u = new URL(`https://${host}`);
  return { hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 443 };
}

/**
 * Whether `host` answers a TLS handshake. False only when a TCP connection
 * was made and the server then did not speak TLS (a plain-HTTP registry
 * answers the ClientHello with an HTTP error, or hangs up, or says nothing);
 * a refused or unreachable host is left to the real request to report.
 */
export function speaksTls(host: string, timeoutMs = TLS_PROBE_TIMEOUT_MS): Promise<boolean> {
  const { hostname, port } = hostPort(host);
  return new Promise((resolve) => {
    let connected = false;
    const s = connect({ host: hostname, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(/^[\d.:]+$/.test(hostname) ? {} : { servername: hostname }) });
    const done = (v: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(!connected), timeoutMs);
    s.once('connect', () => {
      connected = true;
    });
    s.once('secureConnect', () => done(true));
    s.once('error', () => done(!connected));
    s.once('close', () => done(!connected));
  });
}

export interface InsecureInit {
  method: string;
  headers: Headers;
  body?: string;
  signal?: AbortSignal;
}

/**
 * fetch over HTTPS without verifying the certificate, for insecure
 * registries only. No redirects are followed (the transport does that), no
 * Content-Encoding is asked for or undone.
 */
export function insecureFetch(url: URL, init: InsecureInit): Promise<Response> {
  agent ??= new Agent({ keepAlive: true, rejectUnauthorized: false });
  const headers: Record<string, string> = {};
  init.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers, agent, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      const h = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue;
        for (const one of Array.isArray(v) ? v : [v]) h.append(k, one);
      }
      const empty = init.method === 'HEAD' || status === 204 || status === 304;
      if (empty) res.resume();
      try {
        resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? '', headers: h }));
      } catch (e) {
        res.destroy();
        reject(e);
      }
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
