/*
 * oci2fs's native helpers (Node-API, C). This file: write a range of one
 * file into another with O_DIRECT without copying it through our memory.
 * inflate.c: one-pass gzip layer spills (built where libisal is there).
 *
 * A layer tar spilled to the store sits in the page cache; the tar writer
 * used to read each file's bytes into an aligned buffer (a memcpy of the
 * whole image, ~0.7 s of system time per 1.5 GB on the benchmark VM) and
 * then write the buffer with O_DIRECT. Mapping the source range and handing
 * the mapping to pwrite(2) on an O_DIRECT descriptor lets the kernel pin the
 * page-cache pages and write them straight to the device: no copy at all.
 *
 *   dioAlign(fd)                  -> [memAlign, offsetAlign] | null  statx(2) STATX_DIOALIGN
 *   mapRange(fd, offset, length)  -> range                           mmap(2), PROT_READ
 *   writeSegments(fd, pos, segs)  -> Promise<void>                   pwritev(2) loop, thread pool
 *   unmap(range)                                                     munmap(2), idempotent
 *
 * writeSegments gathers ranges and Uint8Arrays (headers and small files the
 * caller buffered) into one pwritev, so a batch of files costs one device
 * write, as one large buffer did.
 *
 * JavaScript never sees the mapped memory, so a source file truncated under
 * us cannot raise SIGBUS: the kernel's pinning of the pages fails and
 * pwrite returns EFAULT, which rejects the promise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <limits.h>
#include <unistd.h>
#include "napi_util.h"

typedef struct {
  void *base;      /* mmap result, NULL once unmapped */
  size_t map_len;  /* bytes mapped (from the page boundary below the offset) */
  size_t delta;    /* offset of the range within the mapping */
  size_t length;   /* bytes in the range */
  int pending;     /* writeSegments calls using it not yet completed */
} range_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref ref; /* keeps the segment array, and so its buffers and ranges, alive while the write runs */
  struct iovec *iov;
  range_t **ranges; /* ranges among the segments, their pending counts raised */
  size_t niov, nranges;
  int fd;
  int64_t pos;
  int err; /* errno of the failure, 0 on success */
} write_job_t;

static void range_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  range_t *r = data;
  if (r->base) munmap(r->base, r->map_len);
  free(r);
}

static range_t *get_range(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a range from mapRange");
    return NULL;
  }
  return data;
}

static napi_value dio_align(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, a, b;
  int fd;
  struct statx stx;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_fd(env, argv[0], &fd)) return NULL;
  memset(&stx, 0, sizeof stx);
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0) return throw_errno(env, "statx", errno);
  if (!(stx.stx_mask & STATX_DIOALIGN) || stx.stx_dio_mem_align == 0 || stx.stx_dio_offset_align == 0) {
    CHECK(env, napi_get_null(env, &result));
    return result;
  }
  CHECK(env, napi_create_array_with_length(env, 2, &result));
  CHECK(env, napi_create_uint32(env, stx.stx_dio_mem_align, &a));
  CHECK(env, napi_create_uint32(env, stx.stx_dio_offset_align, &b));
  CHECK(env, napi_set_element(env, result, 0, a));
  CHECK(env, napi_set_element(env, result, 1, b));
  return result;
}

static napi_value map_range(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  int fd;
  int64_t offset, length;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_fd(env, argv[0], &fd) || !get_size(env, argv[1], &offset) || !get_size(env, argv[2], &length)) return NULL;
  if (length == 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "mapRange: empty range");
    return NULL;
  }
  long page = sysconf(_SC_PAGESIZE);
  int64_t start = offset - offset % page;
  range_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "mapRange", ENOMEM);
  r->delta = (size_t)(offset - start);
  r->length = (size_t)length;
  r->map_len = r->delta + r->length;
  r->base = mmap(NULL, r->map_len, PROT_READ, MAP_SHARED, fd, (off_t)start);
  if (r->base == MAP_FAILED) {
    int err = errno;
    free(r);
    return throw_errno(env, "mmap", err);
  }
  if (napi_create_external(env, r, range_finalize, NULL, &result) != napi_ok) {
    munmap(r->base, r->map_len);
    free(r);
    napi_throw_error(env, "E_NATIVE", "napi_create_external failed");
    return NULL;
  }
  return result;
}

static void write_execute(napi_env env, void *data) {
  (void)env;
  write_job_t *job = data;
  struct iovec *iov = job->iov;
  size_t left = job->niov;
  int64_t pos = job->pos;
  while (left > 0) {
    if (iov->iov_len == 0) {
      iov++;
      left--;
      continue;
    }
    ssize_t n = pwritev(job->fd, iov, left > IOV_MAX ? IOV_MAX : (int)left, (off_t)pos);
    if (n < 0) {
      if (errno == EINTR) continue;
      job->err = errno;
      return;
    }
    if (n == 0) {
      job->err = EIO;
      return;
    }
    pos += n;
    /* a short write: skip what went out, go on from the rest */
    while (n > 0 && left > 0) {
      size_t k = (size_t)n < iov->iov_len ? (size_t)n : iov->iov_len;
      iov->iov_base = (char *)iov->iov_base + k;
      iov->iov_len -= k;
      n -= (ssize_t)k;
      if (iov->iov_len == 0) {
        iov++;
        left--;
      }
    }
  }
}

static void job_free(napi_env env, write_job_t *job) {
  for (size_t i = 0; i < job->nranges; i++) job->ranges[i]->pending--;
  if (job->ref) napi_delete_reference(env, job->ref);
  if (job->work) napi_delete_async_work(env, job->work);
  free(job->iov);
  free(job->ranges);
  free(job);
}

static void write_complete(napi_env env, napi_status status, void *data) {
  write_job_t *job = data;
  napi_value value;
  if (status != napi_ok && !job->err) job->err = ECANCELED;
  if (job->err) {
    napi_reject_deferred(env, job->deferred, make_errno_error(env, "pwritev", job->err));
  } else {
    napi_get_undefined(env, &value);
    napi_resolve_deferred(env, job->deferred, value);
  }
  job_free(env, job);
}

/* Fills job->iov from the segment array; 0 (with an exception pending) on a bad segment. */
static int collect_segments(napi_env env, napi_value segs, uint32_t count, write_job_t *job) {
  for (uint32_t i = 0; i < count; i++) {
    napi_value seg;
    napi_valuetype t;
    bool typed = false;
    if (napi_get_element(env, segs, i, &seg) != napi_ok || napi_typeof(env, seg, &t) != napi_ok) return 0;
    if (t == napi_external) {
      range_t *r = get_range(env, seg);
      if (!r) return 0;
      if (!r->base) {
        napi_throw_error(env, "ERR_INVALID_STATE", "writeSegments: range already unmapped");
        return 0;
      }
      job->iov[job->niov].iov_base = (char *)r->base + r->delta;
      job->iov[job->niov++].iov_len = r->length;
      r->pending++;
      job->ranges[job->nranges++] = r;
      continue;
    }
    napi_is_typedarray(env, seg, &typed);
    if (!typed) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "writeSegments: a segment is neither a range nor a Uint8Array");
      return 0;
    }
    napi_typedarray_type type;
    size_t length;
    void *ptr;
    if (napi_get_typedarray_info(env, seg, &type, &length, &ptr, NULL, NULL) != napi_ok || type != napi_uint8_array) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "writeSegments: a segment is neither a range nor a Uint8Array");
      return 0;
    }
    job->iov[job->niov].iov_base = ptr;
    job->iov[job->niov++].iov_len = length;
  }
  return 1;
}

static napi_value write_segments(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], promise, name;
  int fd;
  int64_t pos;
  bool is_array = false;
  uint32_t count = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !get_fd(env, argv[0], &fd) || !get_size(env, argv[1], &pos)) return NULL;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[2], &count) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "writeSegments: expected an array of segments");
    return NULL;
  }
  write_job_t *job = calloc(1, sizeof *job);
  if (!job) return throw_errno(env, "writeSegments", ENOMEM);
  job->iov = calloc(count ? count : 1, sizeof *job->iov);
  job->ranges = calloc(count ? count : 1, sizeof *job->ranges);
  job->fd = fd;
  job->pos = pos;
  if (!job->iov || !job->ranges) {
    job_free(env, job);
    return throw_errno(env, "writeSegments", ENOMEM);
  }
  if (!collect_segments(env, argv[2], count, job)) {
    job_free(env, job);
    return NULL;
  }
  if (napi_create_reference(env, argv[2], 1, &job->ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "oci2fs:writeSegments", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, write_execute, write_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    job_free(env, job); /* a created promise is left unsettled: the caller gets the exception instead */
    napi_throw_error(env, "E_NATIVE", "writeSegments: cannot queue the write");
    return NULL;
  }
  return promise;
}

static napi_value unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  range_t *r;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !(r = get_range(env, argv[0]))) return NULL;
  if (r->pending > 0) {
    napi_throw_error(env, "ERR_INVALID_STATE", "unmap: a write from this range is still running");
    return NULL;
  }
  if (r->base) {
    munmap(r->base, r->map_len);
    r->base = NULL;
  }
  CHECK(env, napi_get_undefined(env, &result));
  return result;
}

#ifdef OCI2FS_ISAL
napi_value inflate_gzip(napi_env env, napi_callback_info info); /* inflate.c */
napi_value sha256_file(napi_env env, napi_callback_info info); /* sha256_file.c */
#endif

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"dioAlign", NULL, dio_align, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mapRange", NULL, map_range, NULL, NULL, NULL, napi_enumerable, NULL},
    {"writeSegments", NULL, write_segments, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unmap", NULL, unmap, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
#ifdef OCI2FS_ISAL
  /* only where libisal's headers were there at build time (binding.gyp) */
  napi_property_descriptor inflate[] = {
    {"inflateGzip", NULL, inflate_gzip, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sha256File", NULL, sha256_file, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof inflate / sizeof inflate[0], inflate));
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
