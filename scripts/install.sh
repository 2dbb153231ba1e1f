#!/usr/bin/env bash
# Installs everything oci2fs needs to build and run its tests on Debian 12:
# the Debian packages the tests use as independent oracles, then npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  docker-registry   # a real OCI registry for tests (loopback only)
  skopeo umoci      # independent readers/writers of OCI layouts and registries
  squashfs-tools squashfs-tools-ng   # unsquashfs, sqfs2tar, mksquashfs, tar2sqfs
  erofs-utils       # fsck.erofs, dump.erofs, mkfs.erofs
  e2fsprogs         # e2fsck, debugfs, mkfs.ext4
  fsverity          # fsverity digest
  zstd lz4 tar gzip apache2-utils  # codec CLIs, GNU tar, htpasswd
  openssl           # certs for token auth; `openssl dgst` hashes layer spills (used when present)
  isal coreutils    # igzip: ~3x faster gzip inflate for layer spills, fed by dd iflag=direct (used when present)
  attr libcap2-bin  # getfattr/setfattr, setcap/getcap: xattr and capability fidelity checks
  squashfuse        # a second, FUSE-side squashfs reader
  util-linux mount bsdutils  # mount/losetup for kernel loop-mount checks, setpriv, script
  util-linux-extra  # fincore: page-cache residency checks of O_DIRECT reads
  time hyperfine    # benchmarks
  python3 make g++  # native builds: zstd-napi and our addon (native/)
  libisal-dev       # ISA-L's inflate for the addon's one-pass layer spills (native/inflate.c; built without it when missing)
)

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
