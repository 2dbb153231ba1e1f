/**
 * Platforms (OCI image-spec image-index.md "platform", config.md os/architecture/variant):
 * parsing "os/arch[/variant]", normalising the common aliases, the host
 * platform, and picking a manifest out of an index.
 */
import { arch as nodeArch, endianness } from 'node:os';
import { Oci2fsError, ErrorCode } from '../errors.js';
import { isJsonObject } from './json.js';
import type { Descriptor } from './descriptor.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  /** `os.version` in JSON. */
  osVersion?: string;
  /** `os.features` in JSON. */
  osFeatures?: string[];
}

/** Reads a JSON `platform` object. Throws E_MANIFEST_INVALID. */
export function platformFromJson(v: unknown, where: string): Platform {
  const bad = (p: string): never => {
    throw new Oci2fsError(ErrorCode.MANIFEST_INVALID, `${where}: ${p}`);
  };
  if (!isJsonObject(v)) bad('must be an object');
  const o = v as Record<string, unknown>;
  if (typeof o.os !== 'string') bad('os must be a string');
  if (typeof o.architecture !== 'string') bad('architecture must be a string');
  const p: Platform = { os: o.os as string, architecture: o.architecture as string };
  if (o.variant !== undefined && o.variant !== '') {
    if (typeof o.variant !== 'string') bad('variant must be a string');
    p.variant = o.variant as string;
  }
  if (o['os.version'] !== undefined) {
    if (typeof o['os.version'] !== 'string') bad('os.version must be a string');
    p.osVersion = o['os.version'] as string;
  }
  if (o['os.features'] !== undefined) {
    const f = o['os.features'];
    if (!Array.isArray(f) || !f.every((x) => typeof x === 'string')) bad('os.features must be an array of strings');
    p.osFeatures = f as string[];
  }
  return p;
}

/** Architecture aliases (uname -m / Debian names) → GOARCH names used by OCI. */
const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
  x86: { architecture: '386' },
};

/** Default variants when none is given (as containerd's platforms package). */
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8', arm: 'v7' };

/**
 * Canonical form: lowercase os/arch, aliases resolved (aarch64 → arm64,
 * x86_64 → amd64), variants spelled "vN", arm64 defaults to v8, arm to v7,
 * amd64 "v1" dropped (it is the baseline).
 */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  const alias = ARCH_ALIASES[architecture];
  if (alias) {
    architecture = alias.architecture;
    if (variant === undefined) variant = alias.variant;
  }
  if (variant !== undefined && /^[0-9]+$/.test(variant)) variant = 'v' + variant;
  if (variant === undefined || variant === '') variant = DEFAULT_VARIANT[architecture];
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const out: Platform = { os, architecture };
  if (variant) out.variant = variant;
  if (p.osVersion !== undefined) out.osVersion = p.osVersion;
  if (p.osFeatures !== undefined) out.osFeatures = [...p.osFeatures];
  return out;
}

/** Parses "os/arch[/variant]" (e.g. "linux/arm64/v8"). Throws E_USAGE. Not normalised. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((x) => x === '' || !/^[A-Za-z0-9._-]+$/.test(x))) {
    throw new Oci2fsError(ErrorCode.USAGE, `Invalid platform ${JSON.stringify(s)}: expected os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const p: Platform = { os: parts[0], architecture: parts[1] };
  if (parts[2] !== undefined) p.variant = parts[2];
  return p;
}

/** "os/arch[/variant]". */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/** Node's `process.arch` → OCI architecture (and variant). */
const NODE_ARCH: Record<string, { architecture: string; variant?: string }> = {
  x64: { architecture: 'amd64' },
  arm64: { architecture: 'arm64', variant: 'v8' },
  arm: { architecture: 'arm', variant: 'v7' },
  ia32: { architecture: '386' },
  s390x: { architecture: 's390x' },
  riscv64: { architecture: 'riscv64' },
  loong64: { architecture: 'loong64' },
  mips64el: { architecture: 'mips64le' },
  mipsel: { architecture: 'mipsle' },
};

/**
 * The platform of this machine, as the default image platform. The OS is
 * "linux" except on Windows: root filesystems are Linux even when oci2fs runs
 * on macOS.
 */
export function hostPlatform(): Platform {
  const a = nodeArch();
  let m = NODE_ARCH[a];
  if (!m && a === 'ppc64') m = { architecture: endianness() === 'LE' ? 'ppc64le' : 'ppc64' };
  if (!m) m = { architecture: a };
  if (a === 'arm') {
    const v = (process.config.variables as unknown as Record<string, unknown>).arm_version;
    if (typeof v === 'string' || typeof v === 'number') m = { architecture: 'arm', variant: `v${v}` };
  }
  return normalizePlatform({ os: process.platform === 'win32' ? 'windows' : 'linux', ...m });
}

/**
 * Variants that can run on a host of the given normalised arch/variant, best
 * first (a v7 host runs v6 and v5 arm code; an amd64 v3 host runs v2 and v1).
 */
function compatibleVariants(architecture: string, variant: string | undefined): (string | undefined)[] {
  const ladder = (levels: string[], base: number): (string | undefined)[] => {
    const i = variant === undefined ? base : levels.indexOf(variant);
    if (i < 0) return [variant];
    return levels.slice(0, i + 1).reverse().map((v) => (architecture === 'amd64' && v === 'v1' ? undefined : v));
  };
  if (architecture === 'arm') return ladder(['v5', 'v6', 'v7', 'v8'], 2);
  if (architecture === 'amd64') return ladder(['v1', 'v2', 'v3', 'v4'], 0);
  return [variant];
}

/** Docker buildx attestation manifests carry this annotation and platform unknown/unknown. */
const REFERENCE_TYPE_ANNOTATION = 'vnd.docker.reference.type';

function sameOsVersion(want: Platform, have: Platform): boolean {
  return want.osVersion === undefined || have.osVersion === undefined || want.osVersion === have.osVersion;
}

/**
 * The index entry for `platform`: an exact (normalised) match first, else the
 * best compatible variant; among equals the first in index order. Throws
 * E_PLATFORM_NOT_FOUND listing what the index offers.
 */
export function selectManifest(index: { manifests: Descriptor[] }, platform: Platform, what = 'image'): Descriptor {
  const want = normalizePlatform(platform);
  const candidates = index.manifests.filter(
    (d) => d.platform !== undefined && d.annotations?.[REFERENCE_TYPE_ANNOTATION] === undefined,
  );
  for (const variant of compatibleVariants(want.architecture, want.variant)) {
    for (const d of candidates) {
      const have = normalizePlatform(d.platform as Platform);
      if (have.os === want.os && have.architecture === want.architecture && have.variant === variant && sameOsVersion(want, have)) {
        return d;
      }
    }
  }
  const offered = [...new Set(candidates.map((d) => formatPlatform(normalizePlatform(d.platform as Platform))))].sort();
  throw new Oci2fsError(
    ErrorCode.PLATFORM_NOT_FOUND,
    `No manifest for platform ${formatPlatform(want)} in ${what}; it offers: ${offered.length ? offered.join(', ') : '(no platform-specific manifests)'}. Choose one with --platform`,
  );
}
