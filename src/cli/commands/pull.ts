/** `oci2fs pull REF`: download an image into the store; prints its manifest digest. */
import { formatPlatform } from '../../image/index.js';
import { pullImage } from '../../source/index.js';
import type { Command } from '../command.js';
import { imageArgument, openStore, OUTPUT_OPTIONS, OUTPUT_USAGE, SOURCE_OPTIONS, SOURCE_USAGE, sourceOptions } from '../options.js';
import { createProgress } from '../progress.js';

export const pullCommand: Command = {
  name: 'pull',
  usage: `Usage: oci2fs pull [OPTIONS] REF

Fetches the manifest, config and layers of REF into the content store (an
OCI image layout), verifying every digest, resuming partial downloads and
sharing work with other oci2fs processes using the same store. Prints the
platform-specific manifest digest.

REF: docker://REGISTRY/REPO[:TAG][@DIGEST] (or enroot's USER@REGISTRY#REPO:TAG),
     oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF]

${SOURCE_USAGE}
${OUTPUT_USAGE}
  With --json: {"reference","manifestDigest","indexDigest","configDigest","platform","layers":[{digest,size,mediaType}]}`,
  options: { ...SOURCE_OPTIONS, ...OUTPUT_OPTIONS },
  async run({ values, positionals }, io) {
    const ref = imageArgument(positionals, 'pull');
    const store = await openStore(values, io.env);
    const progress = !values.quiet && io.stderr.isTTY ? createProgress(io.stderr) : undefined;
    let img;
    try {
      img = await pullImage(ref, sourceOptions(values, io.env, store, progress?.listener));
    } finally {
      progress?.finish();
    }
    if (values.json) {
      const out = {
        reference: img.canonical,
        manifestDigest: img.manifestDigest,
        ...(img.indexDigest ? { indexDigest: img.indexDigest } : {}),
        configDigest: img.configDigest,
        platform: formatPlatform(img.platform),
        layers: img.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      };
      io.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      io.stdout.write(img.manifestDigest + '\n');
    }
    return 0;
  },
};
