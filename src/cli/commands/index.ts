/** Every subcommand, in `oci2fs --help` order. One file per command. */
import type { Command } from '../command.js';
import { pullCommand } from './pull.js';
import { digestCommand } from './digest.js';
import { inspectCommand } from './inspect.js';
import { imagesCommand } from './images.js';
import { verifyCommand } from './verify.js';
import { importCommand } from './import.js';
import { pyxisImporterCommand } from './pyxis-importer.js';
import { fsverityCommand } from './fsverity.js';
import { gcCommand } from './gc.js';

export const commands: Command[] = [
  importCommand,
  pullCommand,
  digestCommand,
  inspectCommand,
  imagesCommand,
  verifyCommand,
  gcCommand,
  fsverityCommand,
  pyxisImporterCommand,
];
