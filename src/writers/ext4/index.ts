/** ext4 image writer: public API. See docs/ext4.md. */
export { writeExt4, type Ext4Options, type Ext4Result } from './ext4.js';
export { crc32c } from './crc32c.js';
