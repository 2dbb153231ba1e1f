/** `oci2fs verify`: re-hash every blob of the store; non-zero exit if any is bad. */
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { Command } from '../command.js';
import { OUTPUT_OPTIONS, openStore, STORE_OPTIONS, STORE_USAGE } from '../options.js';

export const verifyCommand: Command = {
  name: 'verify',
  usage: `Usage: oci2fs verify [--repair] [--json] [--store DIR]

Re-hashes every blob under blobs/sha256 against its name and checks that
every image named in index.json has its manifest, config and layers.
Prints one line per problem and a summary; exits with status 8 (E_STORE)
if anything is bad.

  --repair                   delete corrupt blobs (the next pull re-fetches them), temp
                             files of killed processes older than an hour, and partial
                             downloads untouched for a week
  --json                     print {"ok": N, "bad": [{"digest","problem"}]}

${STORE_USAGE}`,
  options: { ...STORE_OPTIONS, json: OUTPUT_OPTIONS.json, repair: { type: 'boolean' } },
  async run({ values }, io) {
    const store = await openStore(values, io.env);
    const report = await store.verify({ repair: values.repair === true });
    const cleaned = values.repair ? await store.cleanTemp() : [];
    if (values.json) {
      io.stdout.write(JSON.stringify(values.repair ? { ...report, removedTemp: cleaned } : report, null, 2) + '\n');
    } else {
      for (const b of report.bad) io.stdout.write(`BAD ${b.digest}: ${b.problem}\n`);
      for (const p of cleaned) io.stdout.write(`removed leftover ${p}\n`);
      io.stdout.write(`${report.ok} blobs ok, ${report.bad.length} problems in ${store.root}\n`);
    }
    if (report.bad.length > 0) {
      throw new Oci2fsError(
        ErrorCode.STORE,
        `The store ${store.root} has ${report.bad.length} problem(s)` +
          (values.repair ? '; corrupt blobs were removed, pull the affected images again' : '; run `oci2fs verify --repair`, then pull the affected images again'),
      );
    }
    return 0;
  },
};
