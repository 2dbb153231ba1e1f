/**
 * `oci2fs images`: what the store holds. The output is a list of sections
 * (text: a titled table each; JSON: one key each) so further sections (e.g.
 * the conversion cache) can be appended without changing the first.
 */
import { formatPlatform, MANIFEST_MAX_BYTES, normalizePlatform } from '../../image/index.js';
import { ANNOTATION, refNameOf, type Store } from '../../store/index.js';
import { ArtifactCache } from '../../cache/artifacts.js';
import type { Command } from '../command.js';
import { OUTPUT_OPTIONS, openStore, STORE_OPTIONS, STORE_USAGE } from '../options.js';
import { formatBytes } from '../progress.js';

/** One section of the listing: a text table and a JSON array under `key`. */
export interface ListingSection {
  key: string;
  title: string;
  columns: { header: string; field: string; format?: (v: unknown) => string }[];
  rows: Record<string, unknown>[];
}

export interface ImageRow {
  reference: string;
  name: string;
  manifestDigest: string;
  indexDigest?: string;
  platform: string;
  /** Bytes of config + layers as stored (compressed), or null when the manifest is missing. */
  size: number | null;
  pulledAt: string | null;
}

/** The images section: every named entry of index.json. */
export async function imagesSection(store: Store): Promise<ListingSection> {
  const rows: ImageRow[] = [];
  for (const d of await store.listRefs()) {
    let size: number | null = null;
    try {
      const m = JSON.parse(Buffer.from(await store.readBlob(d.digest, d.size, MANIFEST_MAX_BYTES)).toString('utf8')) as {
        config?: { size?: number };
        layers?: { size?: number }[];
      };
      size = (m.config?.size ?? 0) + (m.layers ?? []).reduce((n, l) => n + (l.size ?? 0), 0);
    } catch {
      size = null;
    }
    const a = d.annotations ?? {};
    rows.push({
      reference: a[ANNOTATION.reference] ?? refNameOf(d) ?? d.digest,
      name: refNameOf(d) ?? '',
      manifestDigest: d.digest,
      ...(a[ANNOTATION.indexDigest] ? { indexDigest: a[ANNOTATION.indexDigest] } : {}),
      platform: d.platform ? formatPlatform(normalizePlatform(d.platform)) : '',
      size,
      pulledAt: a[ANNOTATION.pulledAt] ?? null,
    });
  }
  return {
    key: 'images',
    title: 'IMAGES',
    columns: [
      { header: 'REFERENCE', field: 'reference' },
      { header: 'PLATFORM', field: 'platform' },
      { header: 'DIGEST', field: 'manifestDigest', format: (v) => String(v).slice(0, 19) },
      { header: 'SIZE', field: 'size', format: (v) => (typeof v === 'number' ? formatBytes(v) : '?') },
      { header: 'PULLED', field: 'pulledAt', format: (v) => (v ? String(v) : '-') },
    ],
    rows: rows as unknown as Record<string, unknown>[],
  };
}

/** The conversion cache: one row per artifact, with its provenance and use times. */
export async function conversionsSection(store: Store): Promise<ListingSection> {
  const rows = (await new ArtifactCache(store.root).list()).map((a) => ({
    reference: a.canonical,
    format: a.format,
    platform: a.platform,
    size: a.size,
    imported: a.imported,
    lastUsed: a.lastUsed,
    manifestDigest: a.manifestDigest,
    configDigest: a.configDigest,
    key: a.key,
    path: a.path,
    ...(a.extra ? { facts: a.extra } : {}),
  }));
  return {
    key: 'conversions',
    title: 'CONVERSIONS',
    columns: [
      { header: 'REFERENCE', field: 'reference' },
      { header: 'FORMAT', field: 'format' },
      { header: 'PLATFORM', field: 'platform' },
      { header: 'CONFIG', field: 'configDigest', format: (v) => String(v).slice(0, 19) },
      { header: 'SIZE', field: 'size', format: (v) => formatBytes(Number(v)) },
      { header: 'IMPORTED', field: 'imported' },
      { header: 'LAST USED', field: 'lastUsed' },
    ],
    rows,
  };
}

/** Text tables, one per section, separated by a blank line. */
export function renderSections(sections: ListingSection[]): string {
  const out: string[] = [];
  for (const s of sections) {
    const cells = s.rows.map((r) => s.columns.map((c) => (c.format ? c.format(r[c.field]) : String(r[c.field] ?? ''))));
    const widths = s.columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)));
    const line = (vals: string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]))).join('  ');
    if (out.length) out.push('');
    out.push(s.title);
    out.push(line(s.columns.map((c) => c.header)));
    for (const row of cells) out.push(line(row));
    if (cells.length === 0) out.push('(none)');
  }
  return out.join('\n') + '\n';
}

export const imagesCommand: Command = {
  name: 'images',
  usage: `Usage: oci2fs images [--json] [--store DIR]

Lists the images the store holds: reference, platform, manifest digest,
size (compressed, as stored) and when it was pulled; then the conversion
cache: reference, format, platform, config digest, size, when it was
imported and last used (RFC 3339 UTC).
With --json: {"images":[{reference,name,manifestDigest,indexDigest?,platform,size,pulledAt}],
              "conversions":[{reference,format,platform,size,imported,lastUsed,manifestDigest,configDigest,key,path}]}

${STORE_USAGE}`,
  options: { ...STORE_OPTIONS, json: OUTPUT_OPTIONS.json },
  async run({ values }, io) {
    const store = await openStore(values, io.env);
    const sections = [await imagesSection(store), await conversionsSection(store)];
    if (values.json) {
      io.stdout.write(JSON.stringify(Object.fromEntries(sections.map((s) => [s.key, s.rows])), null, 2) + '\n');
    } else {
      io.stdout.write(renderSections(sections));
    }
    return 0;
  },
};
