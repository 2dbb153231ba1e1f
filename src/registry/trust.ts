/**
 * Certificate trust for verified TLS connections, with NODE_EXTRA_CA_CERTS
 * loaded when the first verified connection is made instead of at start-up.
 *
 * node (20 to 22) reads and parses the file named by NODE_EXTRA_CA_CERTS,
 * together with its bundled roots, while the process starts, before any
 * script runs: 50–70 ms on this project's CI machines with the system
 * bundle (~140 certificates), more than a warm pull's own work. Most oci2fs
 * commands open no verified TLS connection (a warm pull of a digest, an
 * insecure or plain-HTTP registry, any conversion of a stored image). So
 * the `oci2fs` launcher (bin/oci2fs) hands the file over in
 * OCI2FS_EXTRA_CA_CERTS, the CLI adopts it here, and verifiedTlsOptions()
 * builds the same trust node would have (its bundled roots plus the file's
 * certificates) once, when first asked. Library users are not affected:
 * their node loaded NODE_EXTRA_CA_CERTS itself and nothing is deferred.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SecureContext } from 'node:tls';

/** node:tls, loaded on first use: the CLI adopts the deferred file at start-up, before it needs TLS. */
const requireBuiltin = createRequire(import.meta.url);

/** Where the launcher puts the value of NODE_EXTRA_CA_CERTS it took away from node. */
export const DEFERRED_CA_ENV = 'OCI2FS_EXTRA_CA_CERTS';

/** The CA file node did not load for us; undefined when nothing was deferred. */
let deferredFile: string | undefined;
let context: SecureContext | undefined;

/**
 * Takes over a CA file the launcher deferred: remembered for verified TLS
 * connections, and put back into NODE_EXTRA_CA_CERTS for the processes we
 * start (credential helpers), which load it themselves. Called once by the
 * CLI at start-up, before any connection or child process.
 */
export function adoptDeferredCaCerts(env: NodeJS.ProcessEnv = process.env): void {
  const file = env[DEFERRED_CA_ENV];
  delete env[DEFERRED_CA_ENV];
  if (!file || env.NODE_EXTRA_CA_CERTS !== undefined) return; // node loaded one itself
  env.NODE_EXTRA_CA_CERTS = file;
  deferredFile = file;
  context = undefined;
}

/**
 * tls.connect / https.Agent options for a connection whose certificate is
 * verified: empty (node's default trust) unless a CA file was deferred, then
 * a shared context trusting node's roots and the file's certificates. A file
 * that cannot be read is ignored, as node ignores it (node also prints a
 * warning; a certificate it would have trusted then fails verification, and
 * that error names NODE_EXTRA_CA_CERTS).
 */
export function verifiedTlsOptions(): { secureContext?: SecureContext } {
  if (deferredFile === undefined) return {};
  if (!context) {
    let extra: string[] = [];
    try {
      extra = [readFileSync(deferredFile, 'latin1')];
    } catch {
      // ignored, as node does
    }
    const tls = requireBuiltin('node:tls') as typeof import('node:tls');
    context = tls.createSecureContext({ ca: [...tls.rootCertificates, ...extra] });
  }
  return { secureContext: context };
}
