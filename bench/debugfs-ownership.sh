#!/bin/sh
# The ownership pass of the usual microVM recipe (`mkfs.ext4 -d DIR` records
# the runner's view of the tree; a debugfs script then sets every inode's
# uid, gid and full mode from the image's metadata).
# Usage: debugfs-ownership.sh ROOTFS IMAGE.ext4
set -eu
rootfs=$1
image=$2
script=$(mktemp)
trap 'rm -f "$script"' EXIT
# i_mode = file-type bits | permission bits (setuid/setgid/sticky included).
cd "$rootfs"
find . -mindepth 1 -printf '%y %m %U %G %P\n' | awk '
  BEGIN { t["f"]=32768; t["d"]=16384; t["l"]=40960; t["c"]=8192; t["b"]=24576; t["p"]=4096; t["s"]=49152 }
  {
    type=$1; perm=$2; uid=$3; gid=$4
    path=substr($0, length($1)+length($2)+length($3)+length($4)+5)
    mode=t[type]; p=0
    for (i=1; i<=length(perm); i++) p = p*8 + substr(perm, i, 1)
    printf "sif \"/%s\" uid %d\nsif \"/%s\" gid %d\nsif \"/%s\" mode 0%o\n", path, uid, path, gid, path, mode+p
  }' > "$script"
debugfs -w -f "$script" "$image" >/dev/null
