/** Dispatch, option parsing and error rendering shared by all commands. */
import { parseArgs } from 'node:util';
import { EXIT_STATUS, Oci2fsError, ErrorCode } from '../errors.js';
import type { CommandIO } from './command.js';
import type { CommandEntry } from './commands/index.js';

export function usage(commands: CommandEntry[]): string {
  const lines = ['Usage: oci2fs COMMAND [OPTIONS]', '', 'Commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(16)} ${c.summary}`);
  lines.push('', 'Run `oci2fs COMMAND --help` for the options of a command.', '');
  return lines.join('\n');
}

/** Renders an error for stderr: code and message, then the causes' messages. */
export function renderError(e: unknown): string {
  if (e instanceof Oci2fsError) {
    let s = `oci2fs: error ${e.code}: ${e.message}\n`;
    let c: unknown = e.cause;
    for (let depth = 0; c instanceof Error && depth < 3; depth++, c = c.cause) s += `  caused by: ${c.message}\n`;
    return s;
  }
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return `oci2fs: internal error ${ErrorCode.INTERNAL}: ${msg}\n`;
}

export async function runCommand(commands: CommandEntry[], name: string, argv: string[], io?: CommandIO): Promise<number> {
  const out: CommandIO = io ?? { stdout: process.stdout, stderr: process.stderr, env: process.env };
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    out.stderr.write(`oci2fs: error ${ErrorCode.USAGE}: unknown command "${name}"\n\n${usage(commands)}`);
    return EXIT_STATUS[ErrorCode.USAGE];
  }
  const cmd = await entry.load();
  if (argv.includes('--help') || argv.includes('-h')) {
    out.stdout.write(cmd.usage.endsWith('\n') ? cmd.usage : cmd.usage + '\n');
    return 0;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: cmd.options, allowPositionals: true, strict: true });
    } catch (e) {
      throw new Oci2fsError(ErrorCode.USAGE, `${(e as Error).message}. Run \`oci2fs ${name} --help\`.`);
    }
    return await cmd.run(parsed as { values: Record<string, unknown>; positionals: string[] }, out);
  } catch (e) {
    out.stderr.write(renderError(e));
    return e instanceof Oci2fsError ? EXIT_STATUS[e.code] : EXIT_STATUS[ErrorCode.INTERNAL];
  }
}
