/**
 * Every subcommand, in `oci2fs --help` order. One file per command, loaded
 * only when that command runs: start-up cost is what a repeat import or a
 * warm pull pays, so `oci2fs pull` never loads the squashfs or ext4 writers.
 */
import type { Command } from '../command.js';

export interface CommandEntry {
  name: string;
  /** One line for `oci2fs --help`. */
  summary: string;
  load(): Promise<Command>;
}

export const commands: CommandEntry[] = [
  { name: 'import', summary: 'Convert an image to squashfs, tar, dir, dumpfile, EROFS, composefs or ext4', load: async () => (await import('./import.js')).importCommand },
  { name: 'pull', summary: 'Download an image into the store and print its manifest digest', load: async () => (await import('./pull.js')).pullCommand },
  { name: 'digest', summary: 'Print the manifest digest of an image for this platform', load: async () => (await import('./digest.js')).digestCommand },
  { name: 'inspect', summary: 'Show an image’s digests, platforms, config and layers as JSON', load: async () => (await import('./inspect.js')).inspectCommand },
  { name: 'images', summary: 'List the images in the store', load: async () => (await import('./images.js')).imagesCommand },
  { name: 'verify', summary: 'Re-hash every blob in the store and check images are complete', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'gc', summary: 'Remove cached conversions not used for a while', load: async () => (await import('./gc.js')).gcCommand },
  { name: 'fsverity', summary: 'Print the fs-verity digest of files (like `fsverity digest`)', load: async () => (await import('./fsverity.js')).fsverityCommand },
  { name: 'pyxis-importer', summary: "pyxis importer plugin: `get IMAGE_URI` prints a squashfs path; `release` cleans up", load: async () => (await import('./pyxis-importer.js')).pyxisImporterCommand },
];
