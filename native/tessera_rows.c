/*
 * tessera_rows: the data plane's hot loops over rows and ids, run natively (ADR 0041).
 *
 * Every function works in place on typed arrays the caller owns (no copy in or out, nothing kept
 * between calls) and computes exactly what its JavaScript twin computes, so either may run:
 * src/common/native-rows.ts loads this addon and falls back to the JavaScript loops without it.
 * Every index is checked against the array it reads or writes before it is used; a bad one
 * throws a RangeError naming it, and nothing past it is written.
 *
 * Exports (all synchronous, on the calling JS thread; n, counts and offsets are element counts):
 *   probeIds(slots, scale, ids, n, rows) -> missing
 *       IdIndex.findAll (src/ps/store/id-index.ts): slots is the [lo, hi, row + 1] Uint32Array,
 *       scale its capacity / 2^32; rows[i] = row of id i or -1; returns how many are -1.
 *   probeTags(slots, scale, ids, n, rows)
 *       TaggedIdIndex.findAll's first pass (tagged-id-index.ts): rows[i] = row of the first slot
 *       of id i's probe whose tag is its hash, or -1; the caller confirms the id.
 *   gatherF32(slabs, shift, stride, rows, n, dim, out, outOff)
 *       F32RowSlabs.gather: row rows[i] (slab rows[i] >> shift, row rows[i] & (2^shift - 1),
 *       `stride` floats apart) to out[outOff + i*dim ..]; rows < 0 are skipped.
 *   gatherF16(slabs, shift, rows, n, dim, out, outOff)
 *       F16RowSlabs.gather: the same from fp16 weight slabs of `dim` halves per row, decoded.
 *   dedup(ids, n, keysLo, keysHi, vals, slots, unique, inverse) -> count
 *       Deduper.dedupInto (src/sharding/dedup.ts): vals[0, slots) must be zero; slots a power of two.
 *   copyRowsTo(src, dst, at, from, to, dim)    row k - from of src to row at[k] of dst, k in [from, to)
 *   copyRowsFrom(src, dst, at, from, to, dim)  row at[k] of src to row k - from of dst, k in [from, to)
 *   ownersOf(ids, n, numBuckets, owner, owners, counts)
 *       sliceByOwner's first pass (src/sharding/slicer.ts): owners[i] = owner[bucket of id i]
 *       (bucketOf of src/sharding/buckets.ts), counts[owner] += 1; counts.length is the PS count.
 *   fillSlices(ids, n, owners, sliceIds, slicePositions)
 *       its second pass: id i appended to sliceIds[owners[i]] with position i (arrays by PS index).
 *   sumGrads(rows, n, grads, dim, table, bits, uniq, gsum) -> u
 *       GradSum.sum (src/ps/store/grad-sum.ts): table[0, 2^bits) must be -1.
 *   adagradF32(slabs, shift, stride, dim, slots, u, g, lr, eps) -> -1 or k
 *       AdagradOptimizer.apply to f32 rows slots[0, u) with gradient rows of g, in float64 as the
 *       JS does; stops at the first row left holding a non-finite weight or state and returns its
 *       k (rows before it stay updated: the caller rolls them back from its undo copy).
 */
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define MAX_ARGS 10
/* Probes run this many ids ahead of the one they resolve, prefetching its home slot. */
#define AHEAD 8

typedef struct {
  void *data;
  size_t length; /* elements */
  napi_typedarray_type type;
} Array;

static void fail_range(napi_env env, const char *fn, const char *what) {
  char msg[200];
  snprintf(msg, sizeof msg, "tessera_rows.%s: %s", fn, what);
  napi_throw_range_error(env, NULL, msg);
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) {
    char msg[96];
    snprintf(msg, sizeof msg, "tessera_rows.%s: expected %zu arguments", fn, want);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* A typed array of type `type` (or either uint32/int32 when `type` is napi_int32_array and any32). */
static int get_array(napi_env env, napi_value v, napi_typedarray_type type, int any32, const char *fn, const char *name, Array *out) {
  bool is_ta = false;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, &ab, &offset) != napi_ok ||
      !(out->type == type || (any32 && (out->type == napi_int32_array || out->type == napi_uint32_array)))) {
    char msg[160];
    snprintf(msg, sizeof msg, "tessera_rows.%s: %s is not a typed array of the expected type", fn, name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* An integer argument in [min, max]. */
static int get_int(napi_env env, napi_value v, int64_t min, int64_t max, const char *fn, const char *name, int64_t *out) {
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

static int get_double(napi_env env, napi_value v, const char *fn, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok && *out == *out && *out > 0) return 1;
  char msg[96];
  snprintf(msg, sizeof msg, "%s must be a positive number", name);
  fail_range(env, fn, msg);
  return 0;
}

static napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

/* hashId of id-index-base.ts: murmur3-style mix of both halves. */
static inline uint32_t hash_id(uint32_t lo, uint32_t hi) {
  uint32_t h = lo ^ ((hi ^ (hi >> 16)) * 0x85ebca6bu);
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  return h;
}

/* The home slot of hash h: floor(h * capacity / 2^32), computed in doubles as the JS does. */
static inline uint64_t home_of(uint32_t h, double scale) {
  return (uint64_t)((double)h * scale);
}

/* home_of, kept inside the table even for a scale the caller got wrong (it is checked anyway). */
static inline uint64_t home_in(uint32_t h, double scale, uint64_t cap) {
  const uint64_t b = home_of(h, scale);
  return b < cap ? b : cap - 1;
}

/* Checks the shared arguments of the probes: slots (w words per slot), scale, ids, n, rows. */
static int probe_args(napi_env env, napi_value *argv, size_t w, const char *fn, Array *slots, double *scale, Array *ids,
                      int64_t *n, Array *rows) {
  if (!get_array(env, argv[0], napi_uint32_array, 0, fn, "slots", slots) || !get_double(env, argv[1], fn, "scale", scale) ||
      !get_array(env, argv[2], napi_uint32_array, 0, fn, "ids", ids) || !get_int(env, argv[3], 0, INT32_MAX, fn, "n", n) ||
      !get_array(env, argv[4], napi_int32_array, 0, fn, "rows", rows)) {
    return 0;
  }
  const uint64_t cap = slots->length / w;
  if (cap == 0 || slots->length % w != 0 || (double)cap / 4294967296.0 != *scale) {
    fail_range(env, fn, "scale is not the slots' capacity / 2^32");
    return 0;
  }
  if ((uint64_t)*n * 2 > ids->length || (uint64_t)*n > rows->length) {
    fail_range(env, fn, "ids or rows hold fewer than n ids");
    return 0;
  }
  return 1;
}

static napi_value ProbeIds(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Array slots, ids, rows;
  double scale;
  int64_t n;
  if (!get_args(env, info, 5, argv, "probeIds") || !probe_args(env, argv, 3, "probeIds", &slots, &scale, &ids, &n, &rows)) return NULL;
  const uint32_t *s = slots.data;
  const uint32_t *id = ids.data;
  int32_t *out = rows.data;
  const uint64_t cap = slots.length / 3;
  int64_t missing = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i + AHEAD < n) __builtin_prefetch(s + 3 * home_of(hash_id(id[2 * (i + AHEAD)], id[2 * (i + AHEAD) + 1]), scale));
    const uint32_t lo = id[2 * i], hi = id[2 * i + 1];
    uint64_t b = home_in(hash_id(lo, hi), scale, cap);
    int32_t row = -1;
    /* At most `cap` slots: the index always keeps an empty one, but a bad array must not spin. */
    for (uint64_t k = 0; k < cap && s[3 * b + 2] != 0; k++) {
      if (s[3 * b] == lo && s[3 * b + 1] == hi) {
        row = (int32_t)(s[3 * b + 2] - 1);
        break;
      }
      if (++b == cap) b = 0;
    }
    out[i] = row;
    if (row < 0) missing++;
  }
  return number(env, (double)missing);
}

static napi_value ProbeTags(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Array slots, ids, rows;
  double scale;
  int64_t n;
  if (!get_args(env, info, 5, argv, "probeTags") || !probe_args(env, argv, 2, "probeTags", &slots, &scale, &ids, &n, &rows)) return NULL;
  const uint32_t *s = slots.data;
  const uint32_t *id = ids.data;
  int32_t *out = rows.data;
  const uint64_t cap = slots.length / 2;
  for (int64_t i = 0; i < n; i++) {
    if (i + AHEAD < n) __builtin_prefetch(s + 2 * home_of(hash_id(id[2 * (i + AHEAD)], id[2 * (i + AHEAD) + 1]), scale));
    const uint32_t t = hash_id(id[2 * i], id[2 * i + 1]);
    uint64_t b = home_in(t, scale, cap);
    int32_t row = -1;
    for (uint64_t k = 0; k < cap && s[2 * b + 1] != 0; k++) {
      if (s[2 * b] == t) {
        row = (int32_t)(s[2 * b + 1] - 1);
        break;
      }
      if (++b == cap) b = 0;
    }
    out[i] = row;
  }
  return NULL;
}

/* The slabs of one gather call, read from the JS array as rows first touch them. */
#define SLAB_CACHE 256
typedef struct {
  napi_value array;
  uint32_t count;
  napi_typedarray_type type;
  void *data[SLAB_CACHE];
  size_t length[SLAB_CACHE];
} Slabs;

static int slabs_open(napi_env env, napi_value v, napi_typedarray_type type, const char *fn, Slabs *sl) {
  bool is_array = false;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array || napi_get_array_length(env, v, &sl->count) != napi_ok) {
    napi_throw_type_error(env, NULL, "tessera_rows: slabs must be an array of typed arrays");
    return 0;
  }
  (void)fn;
  sl->array = v;
  sl->type = type;
  memset(sl->data, 0, sizeof sl->data);
  return 1;
}

/* Slab `k` (its data and length in elements), or 0 with an exception pending. */
static int slab_at(napi_env env, Slabs *sl, uint32_t k, const char *fn, void **data, size_t *length) {
  if (k < SLAB_CACHE && sl->data[k] != NULL) {
    *data = sl->data[k];
    *length = sl->length[k];
    return 1;
  }
  if (k >= sl->count) {
    fail_range(env, fn, "a row lies beyond the last slab");
    return 0;
  }
  napi_value v;
  Array a;
  if (napi_get_element(env, sl->array, k, &v) != napi_ok || !get_array(env, v, sl->type, 0, fn, "a slab", &a)) return 0;
  if (k < SLAB_CACHE) {
    sl->data[k] = a.data;
    sl->length[k] = a.length;
  }
  *data = a.data;
  *length = a.length;
  return 1;
}

/* Checks the shared gather arguments: rows, n, dim, out, outOff. */
static int gather_args(napi_env env, napi_value *argv, const char *fn, Array *rows, int64_t *n, int64_t *dim, Array *out, int64_t *off) {
  if (!get_array(env, argv[0], napi_int32_array, 0, fn, "rows", rows) || !get_int(env, argv[1], 0, INT32_MAX, fn, "n", n) ||
      !get_int(env, argv[2], 1, 1 << 20, fn, "dim", dim) || !get_array(env, argv[3], napi_float32_array, 0, fn, "out", out) ||
      !get_int(env, argv[4], 0, INT64_C(1) << 50, fn, "outOff", off)) {
    return 0;
  }
  if ((uint64_t)*n > rows->length || (uint64_t)*off + (uint64_t)*n * (uint64_t)*dim > out->length) {
    fail_range(env, fn, "rows hold fewer than n rows, or out is too short for n rows of dim from outOff");
    return 0;
  }
  return 1;
}

static napi_value GatherF32(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  Slabs sl;
  Array rows, out;
  int64_t shift, stride, n, dim, off;
  const char *fn = "gatherF32";
  if (!get_args(env, info, 8, argv, fn) || !slabs_open(env, argv[0], napi_float32_array, fn, &sl) ||
      !get_int(env, argv[1], 0, 24, fn, "shift", &shift) || !get_int(env, argv[2], 1, 1 << 22, fn, "stride", &stride) ||
      !gather_args(env, argv + 3, fn, &rows, &n, &dim, &out, &off)) {
    return NULL;
  }
  if (dim > stride) {
    fail_range(env, fn, "dim exceeds the row stride");
    return NULL;
  }
  const int32_t *r = rows.data;
  float *o = (float *)out.data + off;
  const uint32_t mask = ((uint32_t)1 << shift) - 1;
  for (int64_t i = 0; i < n; i++) {
    if (r[i] < 0) continue;
    void *data;
    size_t length;
    if (!slab_at(env, &sl, (uint32_t)r[i] >> shift, fn, &data, &length)) return NULL;
    const uint64_t at = (uint64_t)((uint32_t)r[i] & mask) * (uint64_t)stride;
    if (at + (uint64_t)dim > length) {
      fail_range(env, fn, "a row lies beyond the end of its slab");
      return NULL;
    }
    if (i + AHEAD < n && r[i + AHEAD] >= 0 && ((uint32_t)r[i + AHEAD] >> shift) < SLAB_CACHE) {
      const float *next = sl.data[(uint32_t)r[i + AHEAD] >> shift];
      if (next != NULL) __builtin_prefetch(next + (uint64_t)((uint32_t)r[i + AHEAD] & mask) * (uint64_t)stride);
    }
    memcpy(o + i * dim, (const float *)data + at, (size_t)dim * sizeof(float));
  }
  return NULL;
}

/* An IEEE half to float: exact for every value (the JS decode table's values). */
static inline float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else { /* subnormal: normalise */
    exp = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      exp--;
    }
    bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static napi_value GatherF16(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  Slabs sl;
  Array rows, out;
  int64_t shift, n, dim, off;
  const char *fn = "gatherF16";
  if (!get_args(env, info, 7, argv, fn) || !slabs_open(env, argv[0], napi_uint16_array, fn, &sl) ||
      !get_int(env, argv[1], 0, 24, fn, "shift", &shift) || !gather_args(env, argv + 2, fn, &rows, &n, &dim, &out, &off)) {
    return NULL;
  }
  const int32_t *r = rows.data;
  float *o = (float *)out.data + off;
  const uint32_t mask = ((uint32_t)1 << shift) - 1;
  for (int64_t i = 0; i < n; i++) {
    if (r[i] < 0) continue;
    void *data;
    size_t length;
    if (!slab_at(env, &sl, (uint32_t)r[i] >> shift, fn, &data, &length)) return NULL;
    const uint64_t at = (uint64_t)((uint32_t)r[i] & mask) * (uint64_t)dim;
    if (at + (uint64_t)dim > length) {
      fail_range(env, fn, "a row lies beyond the end of its slab");
      return NULL;
    }
    const uint16_t *src = (const uint16_t *)data + at;
    for (int64_t j = 0; j < dim; j++) o[i * dim + j] = half_to_float(src[j]);
  }
  return NULL;
}

/* slotHash of src/sharding/dedup.ts. */
static inline uint32_t dedup_hash(uint32_t lo, uint32_t hi) {
  uint32_t h = lo ^ (hi * 0x9e3779b1u);
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static napi_value Dedup(napi_env env, napi_callback_info info) {
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

static napi_value CopyRowsTo(napi_env env, napi_callback_info info) {
  Array src, dst, at;
  int64_t from, to, dim;
  const char *fn = "copyRowsTo";
  if (!copy_args(env, info, fn, &src, &dst, &at, &from, &to, &dim)) return NULL;
  if ((uint64_t)(to - from) * (uint64_t)dim > src.length) {
    fail_range(env, fn, "src holds fewer than to - from rows");
    return NULL;
  }
  const uint32_t *a = at.data;
  const uint64_t rowsOut = dst.length / (uint64_t)dim;
  const float *s = src.data;
  float *d = dst.data;
  for (int64_t k = from; k < to; k++) {
    if (a[k] >= rowsOut) {
      fail_range(env, fn, "a position of at lies beyond dst");
      return NULL;
    }
    memcpy(d + (uint64_t)a[k] * (uint64_t)dim, s + (uint64_t)(k - from) * (uint64_t)dim, (size_t)dim * sizeof(float));
  }
  return NULL;
}

static napi_value CopyRowsFrom(napi_env env, napi_callback_info info) {
  Array src, dst, at;
  int64_t from, to, dim;
  const char *fn = "copyRowsFrom";
  if (!copy_args(env, info, fn, &src, &dst, &at, &from, &to, &dim)) return NULL;
  if ((uint64_t)(to - from) * (uint64_t)dim > dst.length) {
    fail_range(env, fn, "dst holds fewer than to - from rows");
    return NULL;
  }
  const uint32_t *a = at.data;
  const uint64_t rowsIn = src.length / (uint64_t)dim;
  const float *s = src.data;
  float *d = dst.data;
  for (int64_t k = from; k < to; k++) {
    if (a[k] >= rowsIn) {
      fail_range(env, fn, "a position of at lies beyond src");
      return NULL;
    }
    memcpy(d + (uint64_t)(k - from) * (uint64_t)dim, s + (uint64_t)a[k] * (uint64_t)dim, (size_t)dim * sizeof(float));
  }
  return NULL;
}

/* murmur3_x86_32 of the id's 8 little-endian bytes, seed 0 (bucketHash of src/sharding/buckets.ts). */
static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
static inline uint32_t mix_block(uint32_t h, uint32_t k) {
  k *= 0xcc9e2d51u;
  k = rotl32(k, 15);
  k *= 0x1b873593u;
  h ^= k;
  h = rotl32(h, 13);
  return h * 5 + 0xe6546b64u;
}
static inline uint32_t bucket_hash(uint32_t lo, uint32_t hi) {
  uint32_t h = mix_block(mix_block(0, lo), hi) ^ 8;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static napi_value OwnersOf(napi_env env, napi_callback_info info) {
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
    const uint32_t b = (uint32_t)(((uint64_t)bucket_hash(id[2 * i], id[2 * i + 1]) * (uint64_t)numBuckets) >> 32);
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

static napi_value FillSlices(napi_env env, napi_callback_info info) {
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

static napi_value SumGrads(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  Array rows, grads, table, uniq, gsum;
  int64_t n, dim, bits;
  const char *fn = "sumGrads";
  if (!get_args(env, info, 8, argv, fn) || !get_array(env, argv[0], napi_int32_array, 0, fn, "rows", &rows) ||
      !get_int(env, argv[1], 0, INT32_MAX, fn, "n", &n) || !get_array(env, argv[2], napi_float32_array, 0, fn, "grads", &grads) ||
      !get_int(env, argv[3], 1, 1 << 20, fn, "dim", &dim) || !get_array(env, argv[4], napi_int32_array, 0, fn, "table", &table) ||
      !get_int(env, argv[5], 1, 31, fn, "bits", &bits) || !get_array(env, argv[6], napi_int32_array, 0, fn, "uniq", &uniq) ||
      !get_array(env, argv[7], napi_float32_array, 0, fn, "gsum", &gsum)) {
    return NULL;
  }
  if ((uint64_t)n > rows.length || (uint64_t)n > uniq.length || (uint64_t)n * (uint64_t)dim > grads.length ||
      (uint64_t)n * (uint64_t)dim > gsum.length || ((uint64_t)1 << bits) > table.length || ((uint64_t)1 << bits) < (uint64_t)n) {
    fail_range(env, fn, "rows, uniq, grads, gsum or table are too short for n rows");
    return NULL;
  }
  const int32_t *r = rows.data;
  const float *g = grads.data;
  int32_t *t = table.data, *uq = uniq.data;
  float *sum = gsum.data;
  const uint32_t mask = (uint32_t)(((uint64_t)1 << bits) - 1);
  int32_t u = 0;
  for (int64_t i = 0; i < n; i++) {
    const int32_t row = r[i];
    if (row < 0) continue;
    uint32_t h = ((uint32_t)row * 0x9e3779b1u) >> (32 - bits);
    int32_t k = t[h];
    while (k >= 0 && uq[k] != row) {
      h = (h + 1) & mask;
      k = t[h];
    }
    const float *gi = g + (uint64_t)i * (uint64_t)dim;
    if (k < 0) {
      t[h] = u;
      uq[u] = row;
      memcpy(sum + (uint64_t)u * (uint64_t)dim, gi, (size_t)dim * sizeof(float));
      u++;
    } else {
      float *sk = sum + (uint64_t)k * (uint64_t)dim;
      for (int64_t j = 0; j < dim; j++) sk[j] = (float)((double)sk[j] + (double)gi[j]);
    }
  }
  return number(env, (double)u);
}

static napi_value AdagradF32(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  Slabs sl;
  Array slots, g;
  int64_t shift, stride, dim, u;
  double lr, eps;
  const char *fn = "adagradF32";
  if (!get_args(env, info, 9, argv, fn) || !slabs_open(env, argv[0], napi_float32_array, fn, &sl) ||
      !get_int(env, argv[1], 0, 24, fn, "shift", &shift) || !get_int(env, argv[2], 1, 1 << 22, fn, "stride", &stride) ||
      !get_int(env, argv[3], 1, 1 << 20, fn, "dim", &dim) || !get_array(env, argv[4], napi_int32_array, 0, fn, "slots", &slots) ||
      !get_int(env, argv[5], 0, INT32_MAX, fn, "u", &u) || !get_array(env, argv[6], napi_float32_array, 0, fn, "g", &g) ||
      napi_get_value_double(env, argv[7], &lr) != napi_ok || napi_get_value_double(env, argv[8], &eps) != napi_ok) {
    return NULL;
  }
  if (2 * dim > stride || (uint64_t)u > slots.length || (uint64_t)u * (uint64_t)dim > g.length) {
    fail_range(env, fn, "a row holds fewer than 2 * dim floats, or slots or g hold fewer than u rows");
    return NULL;
  }
  const int32_t *sv = slots.data;
  const float *gr = g.data;
  const uint32_t mask = ((uint32_t)1 << shift) - 1;
  for (int64_t k = 0; k < u; k++) {
    void *data;
    size_t length;
    if (sv[k] < 0 || !slab_at(env, &sl, (uint32_t)sv[k] >> shift, fn, &data, &length)) {
      if (sv[k] < 0) fail_range(env, fn, "a slot is negative");
      return NULL;
    }
    const uint64_t at = (uint64_t)((uint32_t)sv[k] & mask) * (uint64_t)stride;
    if (at + (uint64_t)stride > length) {
      fail_range(env, fn, "a row lies beyond the end of its slab");
      return NULL;
    }
    float *w = (float *)data + at;
    float *s = w + dim;
    const float *gk = gr + (uint64_t)k * (uint64_t)dim;
    for (int64_t j = 0; j < dim; j++) {
      const double gj = gk[j];
      const double acc = (double)s[j] + gj * gj;
      s[j] = (float)acc;
      w[j] = (float)((double)w[j] - (lr * gj) / (sqrt(acc) + eps));
    }
    int finite = 1;
    for (int64_t j = 0; j < stride; j++) finite &= isfinite(w[j]) ? 1 : 0;
    if (!finite) return number(env, (double)k);
  }
  return number(env, -1);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"probeIds", NULL, ProbeIds, NULL, NULL, NULL, napi_default, NULL},
    {"probeTags", NULL, ProbeTags, NULL, NULL, NULL, napi_default, NULL},
    {"gatherF32", NULL, GatherF32, NULL, NULL, NULL, napi_default, NULL},
    {"gatherF16", NULL, GatherF16, NULL, NULL, NULL, napi_default, NULL},
    {"dedup", NULL, Dedup, NULL, NULL, NULL, napi_default, NULL},
    {"copyRowsTo", NULL, CopyRowsTo, NULL, NULL, NULL, napi_default, NULL},
    {"copyRowsFrom", NULL, CopyRowsFrom, NULL, NULL, NULL, napi_default, NULL},
    {"ownersOf", NULL, OwnersOf, NULL, NULL, NULL, napi_default, NULL},
    {"fillSlices", NULL, FillSlices, NULL, NULL, NULL, napi_default, NULL},
    {"sumGrads", NULL, SumGrads, NULL, NULL, NULL, napi_default, NULL},
    {"adagradF32", NULL, AdagradF32, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
