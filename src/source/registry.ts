/**
 * `docker://REGISTRY/REPO[:TAG][@DIGEST]`: a registry via the registry
 * client (auth, retries, redirects, Range). Digest and size checks happen in
 * resolve.ts and the store, the same as for every other source.
 */
import { createCredentialResolver } from '../auth/index.js';
import { loadRegistriesConfig } from '../config/index.js';
import type { Descriptor } from '../image/index.js';
import type { DockerReference } from '../reference/index.js';
import { RegistryClient } from '../registry/index.js';
import type { FetchedDocument, SourceBackend, SourceOptions } from './types.js';

export class RegistryBackend implements SourceBackend {
  readonly label: string;

  private constructor(
    private readonly client: RegistryClient,
    private readonly ref: DockerReference,
  ) {
    this.label = `registry ${ref.registry}`;
  }

  static async open(ref: DockerReference, opts: SourceOptions): Promise<RegistryBackend> {
    const env = opts.env ?? process.env;
    // enroot's USER@ prefix names the login whose password the credential sources hold.
    const creds = opts.creds ?? ref.user;
    const credentials = createCredentialResolver({
      ...(creds !== undefined ? { creds } : {}),
      ...(opts.authfile !== undefined ? { authfile: opts.authfile } : {}),
      env,
    });
    const config = await loadRegistriesConfig({
      ...(opts.registriesConf !== undefined ? { path: opts.registriesConf } : {}),
      env,
      ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
    });
    const client = new RegistryClient({
      credentials,
      config,
      insecureRegistries: opts.insecureRegistries ?? [],
      ...(opts.events ? { events: opts.events } : {}),
    });
    return new RegistryBackend(client, ref);
  }

  private get loc() {
    return { registry: this.ref.registry, repository: this.ref.repository };
  }

  async top(): Promise<FetchedDocument> {
    const reference = this.ref.digest ?? this.ref.tag ?? 'latest';
    const r = await this.client.getManifest(this.loc, reference);
    return { bytes: r.bytes, mediaType: r.mediaType, digest: this.ref.digest ?? r.digest };
  }

  async manifest(desc: Descriptor): Promise<FetchedDocument> {
    const r = await this.client.getManifest(this.loc, desc.digest);
    return { bytes: r.bytes, mediaType: r.mediaType, digest: desc.digest };
  }

  async openBlob(desc: Descriptor, offset: number): Promise<{ body: AsyncIterable<Uint8Array>; start: number; cancel: () => void }> {
    const r = await this.client.openBlob(this.loc, desc.digest, offset);
    return { body: r.body, start: r.start, cancel: r.cancel };
  }

  async close(): Promise<void> {}
}
