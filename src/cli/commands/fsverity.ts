/** `oci2fs fsverity FILE…`: fs-verity digests, printed as `fsverity digest` prints them. */
import { fsverityDigestFile, formatFsverityLine } from '../../fsverity/index.js';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import type { Command } from '../command.js';

export const fsverityCommand: Command = {
  name: 'fsverity',
  usage: `Usage: oci2fs fsverity [--hash-alg sha256|sha512] [--block-size 4096] FILE...

Prints "ALG:HEX FILE" for every file, computed in user space (no kernel
support needed), equal to \`fsverity digest --hash-alg=ALG --block-size=4096\`.`,
  options: {
    'hash-alg': { type: 'string', default: 'sha256' },
    'block-size': { type: 'string', default: '4096' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length === 0) throw new Oci2fsError(ErrorCode.USAGE, 'fsverity needs at least one FILE');
    const algorithm = values['hash-alg'] as string;
    if (algorithm !== 'sha256' && algorithm !== 'sha512') {
      throw new Oci2fsError(ErrorCode.USAGE, `--hash-alg must be sha256 or sha512, not "${algorithm}"`);
    }
    const blockSize = Number(values['block-size']);
    if (!Number.isInteger(blockSize) || blockSize < 1024 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0) {
      throw new Oci2fsError(ErrorCode.USAGE, `--block-size must be a power of two from 1024 to 65536`);
    }
    for (const file of positionals) {
      let hex: string;
      try {
        hex = await fsverityDigestFile(file, { algorithm, blockSize });
      } catch (e) {
        if (e instanceof Oci2fsError) throw e;
        throw new Oci2fsError(ErrorCode.IO, `Cannot read ${file}: ${(e as Error).message}`, { cause: e });
      }
      io.stdout.write(formatFsverityLine(hex, file, algorithm) + '\n');
    }
    return 0;
  },
};
