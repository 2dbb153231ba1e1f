/**
 * /.enroot/source: where the root filesystem came from, one key=value per
 * line, uri first and exactly as given (see docs/determinism.md).
 */
export const PROVENANCE_PATH = '/.enroot/source';

export interface Provenance {
  uri: string;
  manifestDigest: string;
  configDigest: string;
  platform: string;
}

export function provenanceText(p: Provenance): string {
  return `uri=${p.uri}\nmanifest-digest=${p.manifestDigest}\nconfig-digest=${p.configDigest}\nplatform=${p.platform}\n`;
}
