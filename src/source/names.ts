/**
 * The name an image gets in the store's index.json
 * (`org.opencontainers.image.ref.name`). image-spec annotations.md gives
 * the grammar; registry references fit it once the `docker://` is dropped,
 * local paths do not and get a stable hashed name. The exact canonical
 * reference is kept beside it in `dev.oci2fs.reference`.
 */
import { createHash } from 'node:crypto';
import { formatReference, type ImageReference } from '../reference/index.js';

/** image-spec annotations.md, org.opencontainers.image.ref.name grammar. */
const REF_NAME_RE = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;
/** Hex digits of sha256(canonical) in names of local images. */
const LOCAL_NAME_HASH_CHARS = 16;

/** The index.json ref name for `ref`: `registry/repo[:tag][@digest]`, or `local/<transport>-<hash>`. */
export function storeRefName(ref: ImageReference): string {
  if (ref.transport === 'docker') {
    let s = `${ref.registry}/${ref.repository}`;
    if (ref.tag !== undefined) s += `:${ref.tag}`;
    if (ref.digest !== undefined) s += `@${ref.digest}`;
    if (REF_NAME_RE.test(s)) return s;
  }
  const h = createHash('sha256').update(formatReference(ref)).digest('hex').slice(0, LOCAL_NAME_HASH_CHARS);
  return `local/${ref.transport}-${h}`;
}
