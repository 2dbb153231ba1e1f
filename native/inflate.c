/*
 * inflateGzip: a gzip layer blob → its uncompressed tar in one pass on a
 * thread of its own: read (O_DIRECT when asked), inflate with ISA-L's
 * isal_inflate (libisal, the library behind the `igzip` program), write,
 * and (unless asked not to) hash the output with SHA-256 (node's own
 * OpenSSL) while it is still in the CPU's cache.
 *
 * It replaces `dd iflag=direct | igzip -d` and a later `openssl dgst` over
 * the written file: two pipe copies of the blob and three process spawns
 * per layer (docs/tree.md, "One pass in the addon", for what was measured).
 *
 *   inflateGzip(srcPath, dstFd, maxOutput, direct, captureHeaders, hash = true)
 *     -> Promise<{ kind: 'ok', size, sha256, headers? } | { kind: 'limit' } | { kind: 'retry', reason }>
 *
 * Without `hash`, sha256 is "": the caller hashes the file later
 * (sha256File in sha256_file.c), off the cores the decoding needs.
 *
 * With captureHeaders, `headers` holds the tar's metadata blocks as they went
 * by ({ bytes, pieces }: see tar_walk.c), so listing the layer costs no reads.
 *
 * Its verdict counts only where it is the one zlib gives (src/compress/igzip.ts
 * states the rule): one or more complete members back to back, each checked
 * by its CRC-32 and ISIZE (RFC 1952 §2.3.1), then NUL bytes at most. Anything
 * else (a corrupt stream, garbage after a member) is 'retry': the caller
 * decodes again with zlib, whose error message and verdict every machine
 * shares. 'limit' means the output would exceed maxOutput (a decompression
 * bomb); nothing past the limit is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "napi_util.h"
#include "tar_walk.h"

/* Bytes read from the blob at a time: a multiple of every logical block size (O_DIRECT). */
#define IN_CHUNK (1 << 20)
/* Bytes inflated before each write: large writes keep the page cache's cost per byte low. */
#define OUT_CHUNK (1 << 20)
/* Alignment of the input buffer for O_DIRECT. */
#define DIRECT_ALIGN 4096
/* First byte of a gzip member (RFC 1952 §2.3.1: ID1; isal checks ID2 and the rest of the header). */
#define GZIP_ID1 0x1f

enum verdict { V_OK, V_LIMIT, V_RETRY, V_ERRNO };

typedef struct {
  job_handle_t h; /* the promise side (napi_util.h) */
  char *src;
  int dst;
  int direct;
  int capture;
  int hash;
  double max_out;
  /* results */
  enum verdict verdict;
  int err;
  char reason[200];
  uint64_t size;
  unsigned char digest[32];
  tar_walk_t walk;
} inflate_job_t;

typedef struct {
  int fd;
  unsigned char *buf;
  int eof;
} input_t;

/* Refills `in` (only when empty); 0 on success, an errno otherwise. */
static int refill(input_t *in, struct inflate_state *st) {
  if (st->avail_in > 0 || in->eof) return 0;
  for (;;) {
    ssize_t n = read(in->fd, in->buf, IN_CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) in->eof = 1;
    st->next_in = in->buf;
    st->avail_in = (uint32_t)n;
    return 0;
  }
}

static int write_all(int fd, const unsigned char *p, size_t n, uint64_t at) {
  while (n > 0) {
    ssize_t k = pwrite(fd, p, n, (off_t)at);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return errno;
    if (k == 0) return EIO;
    p += k;
    n -= (size_t)k;
    at += (uint64_t)k;
  }
  return 0;
}

static enum verdict retry(inflate_job_t *job, const char *what, int code) {
  snprintf(job->reason, sizeof job->reason, "%s (isal %d)", what, code);
  return V_RETRY;
}

/* Between members: NULs to the end (done), or the next member's magic right away (1), or anything else (retry). */
static enum verdict after_member(inflate_job_t *job, input_t *in, struct inflate_state *st, int *next) {
  int nul_seen = 0;
  *next = 0;
  for (;;) {
    int e = refill(in, st);
    if (e) {
      job->err = e;
      return V_ERRNO;
    }
    if (st->avail_in == 0) return V_OK; /* end of file */
    if (!nul_seen && st->next_in[0] == GZIP_ID1) {
      /* the magic's second byte may be in the next read; isal checks the whole header */
      *next = 1;
      return V_OK;
    }
    for (uint32_t i = 0; i < st->avail_in; i++) {
      if (st->next_in[i] != 0) return retry(job, "bytes after a gzip member", 0);
    }
    nul_seen = 1;
    st->next_in += st->avail_in;
    st->avail_in = 0;
  }
}

static enum verdict run(inflate_job_t *job, input_t *in, unsigned char *out, EVP_MD_CTX *md) {
  struct inflate_state st;
  isal_inflate_init(&st);
  st.crc_flag = ISAL_GZIP;
  uint64_t total = 0;
  for (;;) {
    int e = refill(in, &st);
    if (e) {
      job->err = e;
      return V_ERRNO;
    }
    st.next_out = out;
    st.avail_out = OUT_CHUNK;
    uint32_t avail_before = st.avail_in;
    int ret = isal_inflate(&st);
    if (ret < 0) return retry(job, "corrupt gzip stream", ret);
    size_t produced = OUT_CHUNK - st.avail_out;
    /* neither input taken nor output given, with input left: a state isal should never be in */
    if (produced == 0 && st.avail_in == avail_before && avail_before > 0 && st.block_state != ISAL_BLOCK_FINISH) return retry(job, "the inflate made no progress", ret);
    if (produced > 0) {
      if ((double)(total + produced) > job->max_out) return V_LIMIT;
      if ((e = write_all(job->dst, out, produced, total))) {
        job->err = e;
        return V_ERRNO;
      }
      if (job->hash && EVP_DigestUpdate(md, out, produced) != 1) return retry(job, "sha256 failed", 0);
      if (job->capture) tar_walk_feed(&job->walk, out, produced);
      total += produced;
    }
    if (st.block_state == ISAL_BLOCK_FINISH) {
      int next;
      enum verdict v = after_member(job, in, &st, &next);
      if (v != V_OK) return v;
      if (!next) break;
      isal_inflate_reset(&st);
      st.crc_flag = ISAL_GZIP;
      continue;
    }
    if (st.avail_in == 0 && in->eof && produced == 0) return retry(job, "the gzip stream ends early", 0);
  }
  job->size = total;
  return V_OK;
}

static void *thread_main(void *arg) {
  inflate_job_t *job = arg;
  input_t in = {.fd = -1};
  unsigned char *out = malloc(OUT_CHUNK);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  void *buf = NULL;
  if (!out || posix_memalign(&buf, DIRECT_ALIGN, IN_CHUNK) != 0 || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    job->verdict = V_ERRNO;
    job->err = ENOMEM;
  } else {
    in.buf = buf;
    in.fd = open(job->src, O_RDONLY | O_CLOEXEC | (job->direct ? O_DIRECT : 0));
    if (in.fd < 0 && job->direct && errno == EINVAL) in.fd = open(job->src, O_RDONLY | O_CLOEXEC);
    if (in.fd < 0) {
      job->verdict = V_ERRNO;
      job->err = errno;
    } else {
      job->verdict = run(job, &in, out, md);
      if (job->verdict == V_OK && job->hash) {
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(md, job->digest, &n) != 1 || n != 32) job->verdict = retry(job, "sha256 failed", 0);
      }
      close(in.fd);
    }
  }
  free(buf);
  free(out);
  EVP_MD_CTX_free(md);
  finish_job(&job->h, job);
  return NULL;
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void free_capture(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/*
 * result.headers = { bytes: Buffer, pieces: Float64Array of (stream offset,
 * length) pairs }: the walk's own memory, handed over (freed by the GC), not
 * copied: a copy of the largest layer's 7 MB cost the JS thread ~10 ms.
 */
static void set_headers(napi_env env, napi_value result, tar_walk_t *w) {
  napi_value headers, bytes, pieces_ab, pieces;
  if (w->npieces == 0) return; /* nothing captured: the reader reads the file */
  if (napi_create_object(env, &headers) != napi_ok ||
      napi_create_external_buffer(env, w->len, w->bytes, free_capture, NULL, &bytes) != napi_ok) {
    return;
  }
  w->bytes = NULL; /* the buffer's now */
  if (napi_create_external_arraybuffer(env, w->pieces, w->npieces * 2 * sizeof(double), free_capture, NULL, &pieces_ab) != napi_ok) return;
  w->pieces = NULL;
  if (napi_create_typedarray(env, napi_float64_array, w->npieces * 2, pieces_ab, 0, &pieces) != napi_ok) return;
  napi_set_named_property(env, headers, "bytes", bytes);
  napi_set_named_property(env, headers, "pieces", pieces);
  napi_set_named_property(env, result, "headers", headers);
}

/* On the JS thread: settles the promise with the thread's result. */
static void complete(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  inflate_job_t *job = data;
  if (env) {
    if (job->verdict == V_ERRNO) {
      napi_reject_deferred(env, job->h.deferred, make_errno_error(env, "inflateGzip", job->err));
    } else {
      napi_value result, size;
      napi_create_object(env, &result);
      set_string(env, result, "kind", job->verdict == V_OK ? "ok" : job->verdict == V_LIMIT ? "limit" : "retry");
      if (job->verdict == V_OK) {
        napi_create_double(env, (double)job->size, &size);
        napi_set_named_property(env, result, "size", size);
        char hex[65] = "";
        if (job->hash) sha256_hex(job->digest, hex);
        set_string(env, result, "sha256", hex);
        if (job->capture) set_headers(env, result, &job->walk);
      }
      if (job->verdict == V_RETRY) set_string(env, result, "reason", job->reason);
      napi_resolve_deferred(env, job->h.deferred, result);
    }
  }
  tar_walk_free(&job->walk);
  free(job->src);
  free(job);
}

napi_value inflate_gzip(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  size_t len = 0;
  bool direct = false, capture = false, hash = true;
  double max_out;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  inflate_job_t *job = calloc(1, sizeof *job);
  if (!job) return throw_errno(env, "inflateGzip", ENOMEM);
  if (argc < 4 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok || !get_fd(env, argv[1], &job->dst) ||
      napi_get_value_double(env, argv[2], &max_out) != napi_ok || !(max_out >= 0) ||
      napi_get_value_bool(env, argv[3], &direct) != napi_ok || (argc > 4 && napi_get_value_bool(env, argv[4], &capture) != napi_ok) ||
      (argc > 5 && napi_get_value_bool(env, argv[5], &hash) != napi_ok)) {
    free(job);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "inflateGzip(srcPath, dstFd, maxOutput, direct[, captureHeaders[, hash]])");
    return NULL;
  }
  job->src = malloc(len + 1);
  if (!job->src) {
    free(job);
    return throw_errno(env, "inflateGzip", ENOMEM);
  }
  napi_get_value_string_utf8(env, argv[0], job->src, len + 1, &len);
  job->max_out = max_out;
  job->direct = direct;
  job->capture = capture;
  job->hash = hash;
  tar_walk_init(&job->walk);
  napi_value promise = start_job(env, "inflateGzip", &job->h, job, thread_main, complete);
  if (!promise) {
    tar_walk_free(&job->walk);
    free(job->src);
    free(job);
  }
  return promise;
}
