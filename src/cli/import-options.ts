/**
 * Options of `oci2fs import` that shape the output (format, writer, finalize,
 * cache), and their translation into library options.
 */
import { join, resolve } from 'node:path';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { parseAddSpec, type AddSpec } from '../finalize/add-spec.js';
import { defaultLevel, IMPORT_DEFAULTS, type WriterOptions } from '../convert/writer-options.js';
import { type Format, parseFormat, formatFromPath } from '../convert/formats.js';
import { parseSize } from './duration.js';

export const IMPORT_OPTIONS = {
  output: { type: 'string', short: 'o' },
  format: { type: 'string', short: 'f' },
  'no-provenance': { type: 'boolean' },
  enroot: { type: 'boolean' },
  add: { type: 'string', multiple: true },
  'source-date-epoch': { type: 'string' },
  lenient: { type: 'boolean' },
  'no-cache': { type: 'boolean' },
  link: { type: 'boolean' },
  // squashfs
  compressor: { type: 'string' },
  level: { type: 'string' },
  'block-size': { type: 'string' },
  lz4hc: { type: 'boolean' },
  // ext4
  size: { type: 'string' },
  inodes: { type: 'string' },
  label: { type: 'string' },
  uuid: { type: 'string' },
  journal: { type: 'boolean' },
  headroom: { type: 'string' },
  // composefs
  'composefs-version': { type: 'string' },
  objects: { type: 'string' },
} as const;

export const IMPORT_USAGE = `Output:
  -o, --output PATH          output file (directory for --format dir; a trailing / means dir).
                             Default: enroot's name for the image in the current directory,
                             e.g. nvidia+pytorch+25.06-py3.sqsh
  -f, --format F             squashfs | tar | dir | dumpfile | erofs | composefs | ext4
                             (default: from the extension of -o, else squashfs)
Tree:
  --no-provenance            do not write /.enroot/source
  --enroot                   add enroot's /etc/environment, /etc/rc, /etc/fstab, /etc/rc.local
  --add SRC:DEST[:MODE[:UID:GID]]  put a host file into the image (repeatable)
  --source-date-epoch N      clamp mtimes newer than N (default $SOURCE_DATE_EPOCH)
  --lenient                  skip unsafe entries with a warning instead of failing
Cache:
  --no-cache                 do not use or fill the conversion cache
  --link                     hardlink the read-only cached file instead of reflink/copy
squashfs:
  --compressor C             zstd (default) | gzip | lz4 | none
  --level N                  compression level (zstd default 3, gzip default 9)
  --block-size SIZE          4K..1M (default 128K)
  --lz4hc                    lz4 high-compression mode
ext4:
  --size SIZE                exact image size (default: content + headroom)
  --headroom FRACTION        free space for the automatic size (default 0.2)
  --inodes N  --label L  --uuid U  --journal
composefs:
  --composefs-version 1|0|auto   (default 1)
  --objects DIR              content objects directory (default: STORE/objects)
`;

function int(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Oci2fsError(ErrorCode.USAGE, `--${name} must be an integer from ${min} to ${max}, not "${String(v)}"`);
  }
  return n;
}

export function outputFormat(values: Record<string, unknown>): Format {
  if (values.format !== undefined) return parseFormat(values.format as string);
  if (values.output !== undefined) return formatFromPath(values.output as string) ?? IMPORT_DEFAULTS.format;
  return IMPORT_DEFAULTS.format;
}

export function addSpecs(values: Record<string, unknown>): AddSpec[] {
  return ((values.add as string[] | undefined) ?? []).map((s) => {
    const a = parseAddSpec(s);
    return { ...a, src: resolve(a.src) };
  });
}

export function sourceDateEpoch(values: Record<string, unknown>, env: NodeJS.ProcessEnv): number | undefined {
  const raw = (values['source-date-epoch'] as string | undefined) ?? env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  return int(raw, 'source-date-epoch', 0, Number.MAX_SAFE_INTEGER);
}

export function writerOptions(values: Record<string, unknown>, storeRoot: string, jobs?: number): WriterOptions {
  const compressor = ((values.compressor as string | undefined) ?? IMPORT_DEFAULTS.compressor) as 'gzip' | 'zstd' | 'lz4' | 'none';
  if (!['gzip', 'zstd', 'lz4', 'none'].includes(compressor)) {
    throw new Oci2fsError(ErrorCode.USAGE, `--compressor must be zstd, gzip, lz4 or none, not "${compressor}"`);
  }
  const level = int(values.level, 'level', 1, compressor === 'zstd' ? 22 : 9) ?? defaultLevel(compressor);
  const blockSize = values['block-size'] !== undefined ? parseSize(values['block-size'] as string) : IMPORT_DEFAULTS.blockSize;
  if (blockSize < 4096 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Oci2fsError(ErrorCode.USAGE, `--block-size must be a power of two from 4K to 1M`);
  }
  const cv = (values['composefs-version'] as string | undefined) ?? String(IMPORT_DEFAULTS.composefsVersion);
  if (!['0', '1', 'auto'].includes(cv)) throw new Oci2fsError(ErrorCode.USAGE, `--composefs-version must be 1, 0 or auto`);
  const headroom = values.headroom !== undefined ? Number(values.headroom) : undefined;
  if (headroom !== undefined && !(headroom >= 0 && headroom <= 10)) {
    throw new Oci2fsError(ErrorCode.USAGE, `--headroom must be a fraction such as 0.2`);
  }
  return {
    jobs,
    squashfs: { compressor, level, blockSize, lz4hc: values.lz4hc === true },
    ext4: {
      size: values.size !== undefined ? parseSize(values.size as string) : undefined,
      inodes: int(values.inodes, 'inodes', 16, 2 ** 32 - 1),
      label: values.label as string | undefined,
      uuid: values.uuid as string | undefined,
      journal: values.journal === true,
      headroom,
    },
    composefs: {
      version: cv === 'auto' ? 'auto' : (Number(cv) as 0 | 1),
      objectsDir: resolve((values.objects as string | undefined) ?? join(storeRoot, IMPORT_DEFAULTS.objectsDir)),
    },
  };
}
