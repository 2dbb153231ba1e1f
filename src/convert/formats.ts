/** Output formats of `oci2fs import`, and how a file name selects one. */
import { Oci2fsError, ErrorCode } from '../errors.js';

export const FORMATS = ['squashfs', 'tar', 'dir', 'dumpfile', 'erofs', 'composefs', 'ext4'] as const;
export type Format = (typeof FORMATS)[number];

/** Extensions recognised on `-o` when `--format` is not given, longest first. */
const EXTENSIONS: [string, Format][] = [
  ['.squashfs', 'squashfs'],
  ['.sqsh', 'squashfs'],
  ['.sqfs', 'squashfs'],
  ['.tar', 'tar'],
  ['.dump', 'dumpfile'],
  ['.erofs', 'erofs'],
  ['.cfs', 'composefs'],
  ['.ext4', 'ext4'],
  ['.img', 'ext4'],
];

/** The default extension written for each format when `-o` is not given (enroot names `.sqsh`). */
export const DEFAULT_EXTENSION: Record<Format, string> = {
  squashfs: '.sqsh',
  tar: '.tar',
  dir: '',
  dumpfile: '.dump',
  erofs: '.erofs',
  composefs: '.cfs',
  ext4: '.ext4',
};

export function parseFormat(s: string): Format {
  const f = s === 'sqsh' || s === 'sqfs' ? 'squashfs' : s;
  if ((FORMATS as readonly string[]).includes(f)) return f as Format;
  throw new Oci2fsError(ErrorCode.USAGE, `Unknown format "${s}"; use one of ${FORMATS.join(', ')}`);
}

/** The format an output path implies: by extension, or `dir` for a trailing "/". */
export function formatFromPath(path: string): Format | undefined {
  if (path.endsWith('/')) return 'dir';
  const lower = path.toLowerCase();
  for (const [ext, f] of EXTENSIONS) if (lower.endsWith(ext)) return f;
  return undefined;
}

/** Formats produced as one file, which the conversion cache can hold. */
export function isCacheable(f: Format): boolean {
  return f !== 'dir';
}
