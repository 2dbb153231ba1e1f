{
  "targets": [
    {
      "target_name": "oci2fs_native",
      "sources": ["oci2fs_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
