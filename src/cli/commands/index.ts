/** Every subcommand, in `oci2fs --help` order. One file per command. */
import type { Command } from '../command.js';

export const commands: Command[] = [];
