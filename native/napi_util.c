/* Helpers the addon's C files share (see napi_util.h). */
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include "napi_util.h"

napi_value throw_errno(napi_env env, const char *what, int err) {
  const char *name = strerrorname_np(err);
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, name ? name : "EIO", msg);
  return NULL;
}

napi_value make_errno_error(napi_env env, const char *what, int err) {
  const char *name = strerrorname_np(err);
  char msg[256];
  napi_value code, text, error, num;
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  return error;
}

/* A non-negative integer argument no larger than MAX_SAFE_INTEGER. */
int get_size(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > MAX_SAFE_INTEGER || d != (double)(int64_t)d) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "expected a non-negative safe integer");
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

int get_fd(napi_env env, napi_value v, int *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok || *out < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a file descriptor");
    return 0;
  }
  return 1;
}

void sha256_hex(const unsigned char digest[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[64] = '\0';
}

napi_value start_job(napi_env env, const char *what, job_handle_t *h, void *job, void *(*thread_main)(void *), napi_threadsafe_function_call_js complete) {
  napi_value promise, name;
  char label[64];
  snprintf(label, sizeof label, "oci2fs:%s", what);
  if (napi_create_promise(env, &h->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, label, NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, complete, &h->tsfn) != napi_ok) {
    snprintf(label, sizeof label, "%s: cannot start", what);
    napi_throw_error(env, "E_NATIVE", label);
    return NULL;
  }
  pthread_t th;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int e = pthread_create(&th, &attr, thread_main, job);
  pthread_attr_destroy(&attr);
  if (e) {
    napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
    snprintf(label, sizeof label, "%s: pthread_create", what);
    throw_errno(env, label, e);
    return NULL;
  }
  return promise;
}

void finish_job(job_handle_t *h, void *job) {
  /* `complete` frees the job (and h with it), maybe before the call below returns: keep the handle */
  napi_threadsafe_function tsfn = h->tsfn;
  napi_call_threadsafe_function(tsfn, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
}
