/** `oci2fs import REF [-o OUT]`: an image as a root filesystem image, through the conversion cache. */
import { parseReference, enrootFileName } from '../../reference/index.js';
import { importImage } from '../../convert/import.js';
import { DEFAULT_EXTENSION } from '../../convert/formats.js';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { SOURCE_OPTIONS, SOURCE_USAGE, OUTPUT_OPTIONS, OUTPUT_USAGE, openStore, sourceOptionsFrom } from '../options.js';
import { IMPORT_OPTIONS, IMPORT_USAGE, outputFormat, addSpecs, sourceDateEpoch, writerOptions } from '../import-options.js';
import { progressListener } from '../progress.js';
import type { Command } from '../command.js';

export const importCommand: Command = {
  name: 'import',
  usage: `Usage: oci2fs import [OPTIONS] REF

REF is any reference: alpine:3.20, docker://nvcr.io#nvidia/pytorch:25.06-py3,
oci:DIR[:REF], oci-archive:FILE, docker-archive:FILE, dir:PATH, dumpfile:PATH.
Prints the output path (and, for composefs, the image's fs-verity digest).

${IMPORT_USAGE}
${SOURCE_USAGE}
${OUTPUT_USAGE}`,
  options: { ...SOURCE_OPTIONS, ...OUTPUT_OPTIONS, ...IMPORT_OPTIONS },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new Oci2fsError(ErrorCode.USAGE, 'import needs exactly one image reference');
    const ref = parseReference(positionals[0]);
    const format = outputFormat(values);
    let output = values.output as string | undefined;
    if (output === undefined) {
      if (ref.transport !== 'docker') {
        throw new Oci2fsError(ErrorCode.USAGE, `Give an output path with -o for ${positionals[0]}`);
      }
      output = enrootFileName(ref) + DEFAULT_EXTENSION[format];
    }
    const store = await openStore(values, io.env);
    const source = sourceOptionsFrom(values, io.env);
    const events = progressListener(values, io);
    const result = await importImage(ref, {
      store,
      source,
      format,
      output,
      provenance: values['no-provenance'] !== true,
      enroot: values.enroot === true,
      add: addSpecs(values),
      sourceDateEpoch: sourceDateEpoch(values, io.env),
      lenient: values.lenient === true,
      writer: writerOptions(values, store.root, source.jobs),
      cache: values['no-cache'] !== true,
      delivery: values.link === true ? 'hardlink' : 'reflink-or-copy',
      events,
    });
    for (const w of result.warnings) io.stderr.write(`oci2fs: warning ${w.code}: ${w.message}\n`);
    if (values.json === true) {
      io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else if (values.quiet !== true) {
      io.stdout.write(`${result.output}\n`);
      if (result.facts.fsverityDigest) io.stdout.write(`${result.facts.fsverityDigest}\n`);
    }
    return 0;
  },
};
