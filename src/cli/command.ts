/** The shape of one subcommand: one file per command in cli/commands/. */
import type { ParseArgsConfig } from 'node:util';

export interface CommandIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  /** Full usage text for `oci2fs NAME --help`. */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Runs the command; returns the exit status. Throws Oci2fsError on failure. */
  run(args: { values: Record<string, unknown>; positionals: string[] }, io: CommandIO): Promise<number>;
}
