{
  "variables": {
    "has_isal": "<!(test -f /usr/include/isa-l/igzip_lib.h && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "oci2fs_native",
      "sources": ["oci2fs_native.c", "napi_util.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "conditions": [
        ["has_isal==1", {
          "sources": ["inflate.c", "tar_walk.c", "sha256_file.c"],
          "defines": ["OCI2FS_ISAL"],
          "libraries": ["-lisal"]
        }]
      ]
    }
  ]
}
