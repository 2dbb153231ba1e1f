/* Helpers the addon's C files share (Node-API argument checks and errno errors). */
#ifndef OCI2FS_NAPI_UTIL_H
#define OCI2FS_NAPI_UTIL_H
#include <node_api.h>
#include <stdint.h>

/* Largest offset or length accepted: 2^53 - 1, the largest integer a JS number holds exactly. */
#define MAX_SAFE_INTEGER 9007199254740991.0

#define CHECK(env, call)                                   \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_error((env), "E_NATIVE", #call " failed"); \
      return NULL;                                         \
    }                                                      \
  } while (0)

/* Throws an Error whose code is the errno's name ("ENOENT"); returns NULL. */
napi_value throw_errno(napi_env env, const char *what, int err);
/* An Error like throw_errno's, with .errno set, to reject a promise with. */
napi_value make_errno_error(napi_env env, const char *what, int err);
/* A non-negative integer argument no larger than MAX_SAFE_INTEGER; 0 with an exception pending otherwise. */
int get_size(napi_env env, napi_value v, int64_t *out);
/* A file descriptor argument; 0 with an exception pending otherwise. */
int get_fd(napi_env env, napi_value v, int *out);
/* The promise side of a job run on a detached thread of its own (a member of the job's struct). */
typedef struct {
  napi_threadsafe_function tsfn;
  napi_deferred deferred;
} job_handle_t;

/*
 * Makes the job's promise and a thread-safe function that calls `complete`
 * on the JS thread with the job, then starts `thread_main(job)` on a
 * detached thread (not the libuv pool, which our file system calls need).
 * Returns the promise, or NULL with an exception pending and nothing
 * started (the caller frees the job). `what` names the call in errors.
 */
napi_value start_job(napi_env env, const char *what, job_handle_t *h, void *job, void *(*thread_main)(void *), napi_threadsafe_function_call_js complete);
/* Last step of the job's thread: hands the job to `complete` on the JS thread, which may free it. */
void finish_job(job_handle_t *h, void *job);
/* A SHA-256 digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(const unsigned char digest[32], char hex[65]);

#endif
