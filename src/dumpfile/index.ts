/** composefs dumpfile codec (layer 7). See docs/composefs.md. */
export { parseDumpfile, type ParseDumpfileOptions } from './parse.js';
export { formatDumpfile, type FormatDumpfileOptions } from './format.js';
export { escapeField, unescapeField, ESCAPE_STANDARD, ESCAPE_EQUAL, ESCAPE_LONE_DASH, NOESCAPE_SPACE } from './escape.js';
export { storedInline, knownDigest, digestPayload, smallContent, LCFS_RECOMMENDED_INLINE_CONTENT_MAX } from './file-repr.js';
export * from './limits.js';
