/* Argument reading and checks shared by the tessera_rows kernels (rows_args.h). */
#include "rows_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void fail_range(napi_env env, const char *fn, const char *what) {
  char msg[200];
  snprintf(msg, sizeof msg, "tessera_rows.%s: %s", fn, what);
  napi_throw_range_error(env, NULL, msg);
}

/* Throws a TypeError "tessera_rows.<fn>: <what>", `what` formatted as printf's. */
static void fail_type(napi_env env, const char *fn, const char *what, ...) {
  char text[128], msg[200];
  va_list ap;
  va_start(ap, what);
  vsnprintf(text, sizeof text, what, ap);
  va_end(ap);
  snprintf(msg, sizeof msg, "tessera_rows.%s: %s", fn, text);
  napi_throw_type_error(env, NULL, msg);
}

int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == want) return 1;
  fail_type(env, fn, "expected %zu arguments", want);
  return 0;
}

/* A typed array of type `type` (or either uint32/int32 when `type` is napi_int32_array and any32). */
int get_array(napi_env env, napi_value v, napi_typedarray_type type, int any32, const char *fn, const char *name, Array *out) {
  bool is_ta = false;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta &&
      napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, &ab, &offset) == napi_ok &&
      (out->type == type || (any32 && (out->type == napi_int32_array || out->type == napi_uint32_array)))) {
    return 1;
  }
  fail_type(env, fn, "%s is not a typed array of the expected type", name);
  return 0;
}

/* An integer argument in [min, max]. */
int get_int(napi_env env, napi_value v, int64_t min, int64_t max, const char *fn, const char *name, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != d || d < (double)min || d > (double)max || d != (double)(int64_t)d) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be an integer in [%lld, %lld]", name, (long long)min, (long long)max);
    fail_range(env, fn, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

int get_double(napi_env env, napi_value v, const char *fn, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok && *out == *out && *out > 0) return 1;
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be a positive number", name);
  fail_range(env, fn, msg);
  return 0;
}

napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}


int slabs_open(napi_env env, napi_value v, napi_typedarray_type type, const char *fn, Slabs *sl) {
  bool is_array = false;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array || napi_get_array_length(env, v, &sl->count) != napi_ok) {
    napi_throw_type_error(env, NULL, "tessera_rows: slabs must be an array of typed arrays");
    return 0;
  }
  (void)fn;
  sl->array = v;
  sl->type = type;
  memset(sl->slab, 0xff, sizeof sl->slab);
  return 1;
}

int slab_at(napi_env env, Slabs *sl, uint32_t k, const char *fn, void **data, size_t *length) {
  const uint32_t e = k % SLAB_CACHE;
  if (sl->slab[e] == k) {
    *data = sl->data[e];
    *length = sl->length[e];
    return 1;
  }
  if (k >= sl->count) {
    fail_range(env, fn, "a row lies beyond the last slab");
    return 0;
  }
  napi_value v;
  Array a;
  if (napi_get_element(env, sl->array, k, &v) != napi_ok || !get_array(env, v, sl->type, 0, fn, "a slab", &a)) return 0;
  sl->slab[e] = k;
  sl->data[e] = a.data;
  sl->length[e] = a.length;
  *data = a.data;
  *length = a.length;
  return 1;
}


void *row_at(napi_env env, Slabs *sl, uint32_t row, int64_t shift, int64_t stride, int64_t width, size_t elem, const char *fn) {
  void *data;
  size_t length;
  if (!slab_at(env, sl, row >> shift, fn, &data, &length)) return NULL;
  const uint64_t at = (uint64_t)(row & (((uint32_t)1 << shift) - 1)) * (uint64_t)stride;
  if (at + (uint64_t)width > length) {
    fail_range(env, fn, "a row lies beyond the end of its slab");
    return NULL;
  }
  return (char *)data + at * elem;
}
