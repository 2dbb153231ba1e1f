/** `oci2fs digest REF`: the platform-specific manifest digest (like `enroot digest`). */
import { resolveImage } from '../../source/index.js';
import type { Command } from '../command.js';
import { imageArgument, openStore, SOURCE_OPTIONS, SOURCE_USAGE, sourceOptions } from '../options.js';

export const digestCommand: Command = {
  name: 'digest',
  usage: `Usage: oci2fs digest [--index] [OPTIONS] REF

Prints the digest of REF's image manifest for the selected platform (the
digest \`enroot digest\` prints). Fetches only the manifest, index and config
(into the store), never the layers.

  --index                    print the digest of the image index instead; for a
                             single-platform image, its manifest digest

${SOURCE_USAGE}`,
  options: { ...SOURCE_OPTIONS, index: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    const ref = imageArgument(positionals, 'digest');
    const store = await openStore(values, io.env);
    const img = await resolveImage(ref, sourceOptions(values, io.env, store));
    io.stdout.write((values.index ? (img.indexDigest ?? img.manifestDigest) : img.manifestDigest) + '\n');
    return 0;
  },
};
