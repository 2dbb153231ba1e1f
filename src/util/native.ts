/**
 * oci2fs's small native addon (native/, built by npm at install time with
 * node-gyp; an optional dependency): zero-copy writes (writers/zero-copy.ts)
 * and one-pass gzip layer spills (compress/native-inflate.ts). Where it is
 * missing (no compiler at install time, another OS) or `OCI2FS_NATIVE=0` is
 * set, nativeAddon() is null and callers take their portable paths: same
 * bytes, more CPU.
 */
import { createRequire } from 'node:module';

/** Environment variable that turns the native helpers off ("0"). */
export const NATIVE_ENV = 'OCI2FS_NATIVE';

/** The addon's package name (native/package.json). */
const ADDON = 'oci2fs-native';

let loaded: Record<string, unknown> | null | undefined;

/** The addon's exports, or null when it is not installed, cannot load, or is turned off. Loaded once. */
export function nativeAddon(): Record<string, unknown> | null {
  if (loaded === undefined) {
    loaded = null;
    if (process.env[NATIVE_ENV] !== '0' && process.platform === 'linux') {
      try {
        loaded = createRequire(import.meta.url)(ADDON) as Record<string, unknown>;
      } catch {
        loaded = null; // not built: the portable paths
      }
    }
  }
  return loaded;
}
