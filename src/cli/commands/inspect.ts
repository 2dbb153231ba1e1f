/** `oci2fs inspect REF`: what an image is, as JSON (no layers downloaded). */
import { formatPlatform } from '../../image/index.js';
import { resolveImage } from '../../source/index.js';
import type { Command } from '../command.js';
import { imageArgument, openStore, SOURCE_OPTIONS, SOURCE_USAGE, sourceOptions } from '../options.js';

export const inspectCommand: Command = {
  name: 'inspect',
  usage: `Usage: oci2fs inspect [OPTIONS] REF

Prints a JSON object: the canonical reference, the index and manifest
digests, the platforms an index offers, the image config (env, entrypoint,
cmd, working dir, user, labels...) and the layers with sizes and media
types. Fetches the manifest, index and config only.

${SOURCE_USAGE}`,
  options: { ...SOURCE_OPTIONS },
  async run({ values, positionals }, io) {
    const ref = imageArgument(positionals, 'inspect');
    const store = await openStore(values, io.env);
    const img = await resolveImage(ref, sourceOptions(values, io.env, store));
    const c = img.config.config;
    const out = {
      reference: img.canonical,
      ...(img.indexDigest ? { indexDigest: img.indexDigest } : {}),
      manifestDigest: img.manifestDigest,
      manifestMediaType: img.manifest.mediaType,
      configDigest: img.configDigest,
      platform: formatPlatform(img.platform),
      ...(img.platforms ? { platforms: img.platforms.map(formatPlatform) } : {}),
      ...(img.config.created ? { created: img.config.created } : {}),
      config: {
        env: c.Env ?? [],
        entrypoint: c.Entrypoint ?? null,
        cmd: c.Cmd ?? null,
        workingDir: c.WorkingDir ?? '',
        user: c.User ?? '',
        labels: c.Labels ?? {},
        ...(c.ExposedPorts ? { exposedPorts: c.ExposedPorts } : {}),
        ...(c.Volumes ? { volumes: c.Volumes } : {}),
        ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
      },
      layers: img.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: img.config.diffIds[i] ?? null })),
      size: img.layers.reduce((n, l) => n + l.size, 0),
    };
    io.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return 0;
  },
};
