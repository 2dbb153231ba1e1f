/** squashfs 4.0 image writer. See docs/squashfs.md. */
export { writeSquashfs, type SquashfsOptions } from './writer.js';
