#!/usr/bin/env node
/**
 * The oci2fs command line. Thin: parses arguments, calls the library,
 * renders events and results. The only place that prints or exits.
 */
import { commands } from './commands/index.js';
import { runCommand, usage } from './run.js';
import { adoptDeferredCaCerts } from '../registry/trust.js';

adoptDeferredCaCerts(); // before any connection or child process (see bin/oci2fs)

const argv = process.argv.slice(2);
const name = argv[0];
if (!name || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(usage(commands));
  process.exit(name ? 0 : 2);
}
if (name === '--version') {
  process.stdout.write('oci2fs 0.1.0\n');
  process.exit(0);
}
process.exit(await runCommand(commands, name, argv.slice(1)));
