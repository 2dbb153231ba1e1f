/*
 * sha256File: the SHA-256 of a file's first `length` bytes, computed on a
 * thread of its own with node's OpenSSL. For the diffID check of a layer
 * the addon inflated without hashing (inflate.c, hash = false): the check
 * then runs once every layer is decoded, while the writer waits on the
 * disk, instead of on the cores the decoding needs (src/compress/to-file.ts
 * states when). The tar was just written, so it is read from the page
 * cache into one reused buffer.
 *
 *   sha256File(path, length) -> Promise<string>   64 hex digits
 *
 * Rejects with an errno-coded error when the file cannot be read, and with
 * EIO when it holds fewer than `length` bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "napi_util.h"

/* Bytes read at a time: large reads keep the cost per byte of the copy out of the page cache low. */
#define READ_CHUNK (1 << 20)

typedef struct {
  job_handle_t h; /* the promise side (napi_util.h) */
  char *path;
  uint64_t length;
  /* results */
  int err;
  const char *what;
  unsigned char digest[32];
} hash_job_t;

/* Hashes the first job->length bytes of fd; 0, or an errno with job->what set. */
static int hash_fd(hash_job_t *job, int fd, unsigned char *buf, EVP_MD_CTX *md) {
  uint64_t at = 0;
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  while (at < job->length) {
    uint64_t left = job->length - at;
    ssize_t n = pread(fd, buf, left < READ_CHUNK ? (size_t)left : READ_CHUNK, (off_t)at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      job->what = "sha256File: read";
      return errno;
    }
    if (n == 0) {
      job->what = "sha256File: the file ended early";
      return EIO;
    }
    if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
      job->what = "sha256File: sha256";
      return EIO;
    }
    at += (uint64_t)n;
  }
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(md, job->digest, &len) != 1 || len != 32) {
    job->what = "sha256File: sha256";
    return EIO;
  }
  return 0;
}

static void *thread_main(void *arg) {
  hash_job_t *job = arg;
  unsigned char *buf = malloc(READ_CHUNK);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  job->what = "sha256File";
  if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    job->err = ENOMEM;
  } else {
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      job->err = errno;
      job->what = "sha256File: open";
    } else {
      job->err = hash_fd(job, fd, buf, md);
      close(fd);
    }
  }
  free(buf);
  EVP_MD_CTX_free(md);
  finish_job(&job->h, job);
  return NULL;
}

/* On the JS thread: settles the promise with the thread's result. */
static void complete(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  hash_job_t *job = data;
  if (env) {
    if (job->err) {
      napi_reject_deferred(env, job->h.deferred, make_errno_error(env, job->what, job->err));
    } else {
      char hex[65];
      napi_value result;
      sha256_hex(job->digest, hex);
      napi_create_string_utf8(env, hex, 64, &result);
      napi_resolve_deferred(env, job->h.deferred, result);
    }
  }
  free(job->path);
  free(job);
}

napi_value sha256_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  size_t len = 0;
  int64_t length;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sha256File(path, length)");
    return NULL;
  }
  if (!get_size(env, argv[1], &length)) return NULL;
  hash_job_t *job = calloc(1, sizeof *job);
  if (!job || !(job->path = malloc(len + 1))) {
    free(job);
    return throw_errno(env, "sha256File", ENOMEM);
  }
  napi_get_value_string_utf8(env, argv[0], job->path, len + 1, &len);
  job->length = (uint64_t)length;
  napi_value promise = start_job(env, "sha256File", &job->h, job, thread_main, complete);
  if (!promise) {
    free(job->path);
    free(job);
  }
  return promise;
}
