/*
 * The PS's kernels of tessera_rows (ADR 0041): id-index probes, row gathers, the gradient sum of
 * a push and the f32 Adagrad update. Each computes exactly what its JavaScript twin computes.
 */
#include "rows_args.h"

#include <math.h>
#include <string.h>

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

napi_value ProbeIds(napi_env env, napi_callback_info info) {
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

napi_value ProbeTags(napi_env env, napi_callback_info info) {
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

napi_value GatherF32(napi_env env, napi_callback_info info) {
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
    const float *src = row_at(env, &sl, (uint32_t)r[i], shift, stride, dim, sizeof(float), fn);
    if (src == NULL) return NULL;
    if (i + AHEAD < n && r[i + AHEAD] >= 0) { /* a prefetch never faults, even past a slab's end */
      const float *next = slab_cached(&sl, (uint32_t)r[i + AHEAD] >> shift);
      if (next != NULL) __builtin_prefetch(next + (uint64_t)((uint32_t)r[i + AHEAD] & mask) * (uint64_t)stride);
    }
    memcpy(o + i * dim, src, (size_t)dim * sizeof(float));
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

napi_value GatherF16(napi_env env, napi_callback_info info) {
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
  for (int64_t i = 0; i < n; i++) {
    if (r[i] < 0) continue;
    const uint16_t *src = row_at(env, &sl, (uint32_t)r[i], shift, dim, dim, sizeof(uint16_t), fn);
    if (src == NULL) return NULL;
    for (int64_t j = 0; j < dim; j++) o[i * dim + j] = half_to_float(src[j]);
  }
  return NULL;
}

napi_value FirstNonFinite(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Array values;
  if (!get_args(env, info, 1, argv, "firstNonFinite") ||
      !get_array(env, argv[0], napi_float32_array, 0, "firstNonFinite", "values", &values)) {
    return NULL;
  }
  const float *v = values.data;
  /* Blocks of 64 summed as "any non-finite" without branching, then the exact index found. */
  for (size_t b = 0; b < values.length; b += 64) {
    const size_t end = b + 64 < values.length ? b + 64 : values.length;
    int bad = 0;
    for (size_t i = b; i < end; i++) bad |= !isfinite(v[i]);
    if (!bad) continue;
    for (size_t i = b; i < end; i++) {
      if (!isfinite(v[i])) return number(env, (double)i);
    }
  }
  return number(env, -1);
}

napi_value SumGrads(napi_env env, napi_callback_info info) {
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

/*
 * The update prefetches the row this many rows ahead, every cache line of it up to
 * ADAGRAD_PREFETCH_BYTES, for writing. Its float64 divisions leave the CPU too few rows in flight
 * to overlap their misses itself: on 8,192 random rows of a 2^20-row table (dim 16, stride 32) a
 * row took 240-250 ns with no prefetch, the same with the row's first line 8 or 32 ahead, 75-85
 * ns with this, and 34 ns when the rows are in cache (ADR 0045, amendment).
 */
#define ADAGRAD_AHEAD 16
#define ADAGRAD_PREFETCH_BYTES 512

napi_value AdagradF32(napi_env env, napi_callback_info info) {
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
  const int64_t row_bytes = stride * (int64_t)sizeof(float);
  /* + 63: a row need not start on a cache line */
  const int64_t span = row_bytes < ADAGRAD_PREFETCH_BYTES ? row_bytes + 63 : ADAGRAD_PREFETCH_BYTES;
  for (int64_t k = 0; k < u; k++) {
    if (sv[k] < 0) {
      fail_range(env, fn, "a slot is negative");
      return NULL;
    }
    float *w = row_at(env, &sl, (uint32_t)sv[k], shift, stride, stride, sizeof(float), fn);
    if (w == NULL) return NULL;
    if (k + ADAGRAD_AHEAD < u && sv[k + ADAGRAD_AHEAD] >= 0) { /* a prefetch never faults, even past a slab's end */
      const float *next = slab_cached(&sl, (uint32_t)sv[k + ADAGRAD_AHEAD] >> shift);
      if (next != NULL) {
        const char *p = (const char *)(next + (uint64_t)((uint32_t)sv[k + ADAGRAD_AHEAD] & mask) * (uint64_t)stride);
        for (int64_t b = 0; b < span; b += 64) __builtin_prefetch(p + b, 1);
      }
    }
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


/* 1 when the float's exponent bits are all ones (NaN or ±Infinity): integer ops, so it vectorizes. */
static inline uint32_t non_finite_bits(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return ((b >> 23) & 0xffu) == 0xffu;
}

napi_value AdamDense(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  Array w, s, g;
  double b1, b2, eps, lr_t;
  const char *fn = "adamDense";
  if (!get_args(env, info, 7, argv, fn) || !get_array(env, argv[0], napi_float32_array, 0, fn, "w", &w) ||
      !get_array(env, argv[1], napi_float32_array, 0, fn, "s", &s) || !get_array(env, argv[2], napi_float32_array, 0, fn, "g", &g) ||
      napi_get_value_double(env, argv[3], &b1) != napi_ok || napi_get_value_double(env, argv[4], &b2) != napi_ok ||
      napi_get_value_double(env, argv[5], &eps) != napi_ok || napi_get_value_double(env, argv[6], &lr_t) != napi_ok) {
    return NULL;
  }
  const size_t n = w.length;
  if (s.length < 2 * n || g.length < n) {
    fail_range(env, fn, "s holds fewer than 2 * w.length floats, or g fewer than w.length");
    return NULL;
  }
  float *wv = w.data, *m = s.data, *v = (float *)s.data + n;
  const float *gv = g.data;
  uint32_t bad = 0;
  for (size_t j = 0; j < n; j++) {
    const double gj = gv[j];
    const double mj = b1 * (double)m[j] + (1 - b1) * gj;
    const double vj = b2 * (double)v[j] + (1 - b2) * gj * gj;
    const float mf = (float)mj, vf = (float)vj;
    const float wf = (float)((double)wv[j] - (lr_t * mj) / (sqrt(vj) + eps));
    m[j] = mf;
    v[j] = vf;
    wv[j] = wf;
    bad |= non_finite_bits(mf) | non_finite_bits(vf) | non_finite_bits(wf);
  }
  return number(env, bad ? 0 : 1);
}
