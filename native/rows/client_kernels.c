/*
 * The client's kernels of tessera_rows (ADR 0041): id dedup, slicing by owner and row copies
 * (stitch, gather). Each computes exactly what its JavaScript twin computes.
 */
#include "rows_args.h"

#include <stdlib.h>
#include <string.h>

/* slotHash of src/sharding/dedup.ts. */
static inline uint32_t dedup_hash(uint32_t lo, uint32_t hi) {
  return fmix32(lo ^ (hi * 0x9e3779b1u));
}

napi_value Dedup(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  Array ids, keysLo, keysHi, vals, unique, inverse;
  int64_t n, slots;
  const char *fn = "dedup";
  if (!get_args(env, info, 8, argv, fn) || !get_array(env, argv[0], napi_uint32_array, 0, fn, "ids", &ids) ||
      !get_int(env, argv[1], 0, INT32_MAX, fn, "n", &n) || !get_array(env, argv[2], napi_uint32_array, 0, fn, "keysLo", &keysLo) ||
      !get_array(env, argv[3], napi_uint32_array, 0, fn, "keysHi", &keysHi) || !get_array(env, argv[4], napi_uint32_array, 0, fn, "vals", &vals) ||
      !get_int(env, argv[5], 1, INT64_C(1) << 32, fn, "slots", &slots) || !get_array(env, argv[6], napi_uint32_array, 0, fn, "unique", &unique) ||
      !get_array(env, argv[7], napi_uint32_array, 0, fn, "inverse", &inverse)) {
    return NULL;
  }
  if ((slots & (slots - 1)) != 0 || slots < 2 * n || (uint64_t)slots > vals.length || (uint64_t)slots > keysLo.length ||
      (uint64_t)slots > keysHi.length || (uint64_t)n * 2 > ids.length || (uint64_t)n * 2 > unique.length || (uint64_t)n > inverse.length) {
    fail_range(env, fn, "slots must be a power of two >= 2n within the tables, and ids, unique and inverse hold n ids");
    return NULL;
  }
  const uint32_t *id = ids.data;
  uint32_t *klo = keysLo.data, *khi = keysHi.data, *v = vals.data, *u = unique.data, *inv = inverse.data;
  const uint32_t mask = (uint32_t)(slots - 1);
  uint32_t k = 0;
  for (int64_t i = 0; i < n; i++) {
    const uint32_t lo = id[2 * i], hi = id[2 * i + 1];
    uint32_t s = dedup_hash(lo, hi) & mask;
    for (;;) {
      const uint32_t x = v[s];
      if (x == 0) {
        klo[s] = lo;
        khi[s] = hi;
        v[s] = k + 1;
        u[2 * k] = lo;
        u[2 * k + 1] = hi;
        inv[i] = k++;
        break;
      }
      if (klo[s] == lo && khi[s] == hi) {
        inv[i] = x - 1;
        break;
      }
      s = (s + 1) & mask;
    }
  }
  return number(env, (double)k);
}

/* Arguments of copyRowsTo / copyRowsFrom: src, dst, at, from, to, dim. */
static int copy_args(napi_env env, napi_callback_info info, const char *fn, Array *src, Array *dst, Array *at, int64_t *from,
                     int64_t *to, int64_t *dim) {
  napi_value argv[6];
  if (!get_args(env, info, 6, argv, fn) || !get_array(env, argv[0], napi_float32_array, 0, fn, "src", src) ||
      !get_array(env, argv[1], napi_float32_array, 0, fn, "dst", dst) || !get_array(env, argv[2], napi_int32_array, 1, fn, "at", at) ||
      !get_int(env, argv[3], 0, INT32_MAX, fn, "from", from) || !get_int(env, argv[4], 0, INT32_MAX, fn, "to", to) ||
      !get_int(env, argv[5], 1, 1 << 20, fn, "dim", dim)) {
    return 0;
  }
  if (*to < *from || (uint64_t)*to > at->length) {
    fail_range(env, fn, "[from, to) is not within at");
    return 0;
  }
  return 1;
}

/* copyRowsTo (scatter: packed rows of src to rows at[k] of dst) and copyRowsFrom (the reverse). */
static napi_value copy_rows(napi_env env, napi_callback_info info, int scatter) {
  Array src, dst, at;
  int64_t from, to, dim;
  const char *fn = scatter ? "copyRowsTo" : "copyRowsFrom";
  if (!copy_args(env, info, fn, &src, &dst, &at, &from, &to, &dim)) return NULL;
  const Array *packed = scatter ? &src : &dst;   /* rows k - from, in order */
  const Array *indexed = scatter ? &dst : &src;  /* rows at[k] */
  if ((uint64_t)(to - from) * (uint64_t)dim > packed->length) {
    fail_range(env, fn, scatter ? "src holds fewer than to - from rows" : "dst holds fewer than to - from rows");
    return NULL;
  }
  const uint32_t *a = at.data;
  const uint64_t rows = indexed->length / (uint64_t)dim;
  const size_t bytes = (size_t)dim * sizeof(float);
  for (int64_t k = from; k < to; k++) {
    if (a[k] >= rows) {
      fail_range(env, fn, scatter ? "a position of at lies beyond dst" : "a position of at lies beyond src");
      return NULL;
    }
    float *p = (float *)packed->data + (uint64_t)(k - from) * (uint64_t)dim;
    float *x = (float *)indexed->data + (uint64_t)a[k] * (uint64_t)dim;
    if (scatter) memcpy(x, p, bytes);
    else memcpy(p, x, bytes);
  }
  return NULL;
}

napi_value CopyRowsTo(napi_env env, napi_callback_info info) { return copy_rows(env, info, 1); }
napi_value CopyRowsFrom(napi_env env, napi_callback_info info) { return copy_rows(env, info, 0); }

napi_value OwnersOf(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  Array ids, owner, owners, counts;
  int64_t n, numBuckets;
  const char *fn = "ownersOf";
  if (!get_args(env, info, 6, argv, fn) || !get_array(env, argv[0], napi_uint32_array, 0, fn, "ids", &ids) ||
      !get_int(env, argv[1], 0, INT32_MAX, fn, "n", &n) || !get_int(env, argv[2], 1, 65536, fn, "numBuckets", &numBuckets) ||
      !get_array(env, argv[3], napi_uint16_array, 0, fn, "owner", &owner) || !get_array(env, argv[4], napi_uint16_array, 0, fn, "owners", &owners) ||
      !get_array(env, argv[5], napi_uint32_array, 0, fn, "counts", &counts)) {
    return NULL;
  }
  if ((uint64_t)n * 2 > ids.length || (uint64_t)n > owners.length || (uint64_t)numBuckets > owner.length) {
    fail_range(env, fn, "ids or owners hold fewer than n ids, or owner fewer than numBuckets buckets");
    return NULL;
  }
  const uint32_t *id = ids.data;
  const uint16_t *own = owner.data;
  uint16_t *out = owners.data;
  uint32_t *cnt = counts.data;
  for (int64_t i = 0; i < n; i++) {
    const uint32_t b = bucket_of(id[2 * i], id[2 * i + 1], (uint64_t)numBuckets);
    const uint16_t o = own[b];
    if (o >= counts.length) {
      fail_range(env, fn, "the shard map names a PS index beyond counts");
      return NULL;
    }
    out[i] = o;
    cnt[o]++;
  }
  return NULL;
}

napi_value FillSlices(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Array ids, owners;
  int64_t n;
  uint32_t numPs, numPos;
  const char *fn = "fillSlices";
  if (!get_args(env, info, 5, argv, fn) || !get_array(env, argv[0], napi_uint32_array, 0, fn, "ids", &ids) ||
      !get_int(env, argv[1], 0, INT32_MAX, fn, "n", &n) || !get_array(env, argv[2], napi_uint16_array, 0, fn, "owners", &owners)) {
    return NULL;
  }
  if ((uint64_t)n * 2 > ids.length || (uint64_t)n > owners.length || napi_get_array_length(env, argv[3], &numPs) != napi_ok ||
      napi_get_array_length(env, argv[4], &numPos) != napi_ok || numPs != numPos) {
    fail_range(env, fn, "ids or owners hold fewer than n ids, or sliceIds and slicePositions are not arrays of one length");
    return NULL;
  }
  uint32_t **sid = calloc(numPs + 1, sizeof *sid);
  uint32_t **spos = calloc(numPs + 1, sizeof *spos);
  size_t *room = calloc(numPs + 1, sizeof *room);
  size_t *at = calloc(numPs + 1, sizeof *at);
  int ok = sid && spos && room && at;
  for (uint32_t p = 0; ok && p < numPs; p++) {
    napi_value a, b;
    Array x, y;
    ok = napi_get_element(env, argv[3], p, &a) == napi_ok && napi_get_element(env, argv[4], p, &b) == napi_ok &&
         get_array(env, a, napi_uint32_array, 0, fn, "sliceIds[p]", &x) && get_array(env, b, napi_uint32_array, 0, fn, "slicePositions[p]", &y);
    if (!ok) break;
    sid[p] = x.data;
    spos[p] = y.data;
    room[p] = x.length / 2 < y.length ? x.length / 2 : y.length;
  }
  const uint32_t *id = ids.data;
  const uint16_t *own = owners.data;
  for (int64_t i = 0; ok && i < n; i++) {
    const uint16_t o = own[i];
    if (o >= numPs || at[o] >= room[o]) {
      fail_range(env, fn, "a slice has no room for its ids (owners and the slices' sizes disagree)");
      ok = 0;
      break;
    }
    const size_t j = at[o]++;
    sid[o][2 * j] = id[2 * i];
    sid[o][2 * j + 1] = id[2 * i + 1];
    spos[o][j] = (uint32_t)i;
  }
  free(sid);
  free(spos);
  free(room);
  free(at);
  return NULL;
}

