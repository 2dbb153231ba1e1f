/** `oci2fs gc --older-than DURATION`: drop cached conversions not used lately. */
import { ArtifactCache } from '../../cache/artifacts.js';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { parseDuration } from '../duration.js';
import { SOURCE_OPTIONS, openStore } from '../options.js';
import type { Command } from '../command.js';

export const gcCommand: Command = {
  name: 'gc',
  usage: `Usage: oci2fs gc --older-than DURATION [--store DIR] [--json]

Removes conversion-cache artifacts whose last use is older than DURATION
(e.g. 30d, 12h). Files handed out with --link stay valid.`,
  options: { store: SOURCE_OPTIONS.store, json: { type: 'boolean' }, 'older-than': { type: 'string' } },
  async run({ values }, io) {
    if (typeof values['older-than'] !== 'string') throw new Oci2fsError(ErrorCode.USAGE, 'gc needs --older-than DURATION');
    const age = parseDuration(values['older-than']);
    const store = await openStore(values, io.env);
    const r = await new ArtifactCache(store.root).gc({ olderThan: new Date(Date.now() - age) });
    if (values.json === true) io.stdout.write(JSON.stringify(r) + '\n');
    else io.stdout.write(`removed ${r.removed.length} artifacts, ${(r.freed / 2 ** 20).toFixed(1)} MiB\n`);
    return 0;
  },
};
