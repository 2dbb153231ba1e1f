/**
 * URLs of files of the built `src` tree (worker entry points), the same
 * from the module tree and from the bundled CLI: this module sits one
 * folder below `src` (dist/src/util/), and so do the bundle's entry and
 * chunks (dist/src/bin/, see docs/architecture.md, "The bundled CLI"),
 * whichever chunk this code lands in. Worker entry
 * points are never bundled: a worker loads its module tree itself.
 */

/** `rel` (e.g. "fsverity/leaf-worker.js") inside the built src tree. */
export function srcUrl(rel: string): URL {
  return new URL(`../${rel}`, import.meta.url);
}
