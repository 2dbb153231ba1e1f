/**
 * `oci2fs pyxis-importer get IMAGE_URI | release`: pyxis's importer plugin
 * contract (`importer=` in plugstack.conf). `get` prints the absolute path of
 * a squashfs on stdout (diagnostics on stderr, non-zero exit on failure); the
 * path stays valid until `release`, which is idempotent and may run twice.
 *
 * The squashfs comes from the shared conversion cache (zstd level 3, 1 MiB
 * blocks, enroot's /etc files, as pyxis's caching importer configures
 * enroot); the per-step path is a hardlink to the read-only cached file, so
 * cache garbage collection never pulls it from under a running job.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseReference } from '../../reference/index.js';
import { importImage } from '../../convert/import.js';
import { Oci2fsError, ErrorCode } from '../../errors.js';
import { SOURCE_OPTIONS, openStore, sourceOptionsFrom } from '../options.js';
import type { Command } from '../command.js';

/** Where the per-step file lives: scoped by uid, job and step. */
export function stepPath(storeRoot: string, env: NodeJS.ProcessEnv): string {
  const uid = env.SLURM_JOB_UID ?? String(process.getuid?.() ?? 'user');
  const job = env.SLURM_JOB_ID ?? 'nojob';
  const step = env.SLURM_STEP_ID ?? 'nostep';
  for (const [k, v] of [['SLURM_JOB_UID', uid], ['SLURM_JOB_ID', job], ['SLURM_STEP_ID', step]]) {
    if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new Oci2fsError(ErrorCode.USAGE, `${k} has an unexpected value ${JSON.stringify(v)}`);
  }
  return join(storeRoot, 'pyxis', uid, `${job}.${step}.sqsh`);
}

export const pyxisImporterCommand: Command = {
  name: 'pyxis-importer',
  usage: `Usage: oci2fs pyxis-importer get IMAGE_URI
       oci2fs pyxis-importer release

For plugstack.conf: required spank_pyxis.so importer=/path/to/script, where the
script runs \`exec oci2fs pyxis-importer "$@"\`. Uses SLURM_JOB_UID, SLURM_JOB_ID
and SLURM_STEP_ID to scope the per-step file; the conversion cache is shared.`,
  options: { ...SOURCE_OPTIONS },
  async run({ values, positionals }, io) {
    const [op, uri, ...rest] = positionals;
    const store = await openStore(values, io.env);
    const path = stepPath(store.root, io.env);
    if (op === 'release' && uri === undefined) {
      await rm(path, { force: true });
      return 0;
    }
    if (op !== 'get' || uri === undefined || rest.length > 0) {
      throw new Oci2fsError(ErrorCode.USAGE, 'usage: oci2fs pyxis-importer get IMAGE_URI | release');
    }
    const ref = parseReference(uri);
    await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
    await importImage(ref, {
      store,
      source: sourceOptionsFrom(values, io.env),
      format: 'squashfs',
      output: path,
      provenance: true,
      enroot: true,
      add: [],
      writer: { squashfs: { compressor: 'zstd', level: 3, blockSize: 1 << 20 } },
      cache: true,
      delivery: 'hardlink',
    });
    io.stdout.write(`${path}\n`);
    return 0;
  },
};
