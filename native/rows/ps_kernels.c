/*
 * The PS's kernels of tessera_rows (ADR 0041): id-index probes, row gathers, the gradient sum of
 * a push and the f32 Adagrad update. Each computes exactly what its JavaScript twin computes.
 */
#include "rows_args.h"
#include "id_hash.h"

#include <math.h>
#include <string.h>

/* The arguments every probe reads: slots (w words a slot) of capacity cap, scale, ids, n, rows. */
typedef struct {
  const uint32_t *s;
  uint64_t cap;
  double scale;
  const uint32_t *id;
  int64_t n;
  int32_t *rows;
} Probe;

/* Reads and checks a probe's arguments: argv[0..4] are slots, scale, ids, n, rows. */
static int probe_args(napi_env env, napi_value *argv, size_t w, const char *fn, Probe *p) {
  Array slots, ids, rows;
  if (!get_array(env, argv[0], napi_uint32_array, 0, fn, "slots", &slots) || !get_double(env, argv[1], fn, "scale", &p->scale) ||
      !get_array(env, argv[2], napi_uint32_array, 0, fn, "ids", &ids) || !get_int(env, argv[3], 0, INT32_MAX, fn, "n", &p->n) ||
      !get_array(env, argv[4], napi_int32_array, 0, fn, "rows", &rows)) {
    return 0;
  }
  p->cap = slots.length / w;
  if (p->cap == 0 || slots.length % w != 0 || (double)p->cap / 4294967296.0 != p->scale) {
    fail_range(env, fn, "scale is not the slots' capacity / 2^32");
    return 0;
  }
  if ((uint64_t)p->n * 2 > ids.length || (uint64_t)p->n > rows.length) {
    fail_range(env, fn, "ids or rows hold fewer than n ids");
    return 0;
  }
  p->s = slots.data;
  p->id = ids.data;
  p->rows = rows.data;
  return 1;
}

/*
 * The row of id i in the [lo, hi, row + 1] slots of `p`, or -1; first prefetches the home slot
 * of id i + AHEAD (when there is one of the n).
 */
static inline int32_t probe_at(const Probe *p, int64_t i) {
  const uint32_t *s = p->s, *id = p->id;
  const uint64_t cap = p->cap;
  if (i + AHEAD < p->n) __builtin_prefetch(s + 3 * home_of(hash_id(id[2 * (i + AHEAD)], id[2 * (i + AHEAD) + 1]), p->scale));
  const uint32_t lo = id[2 * i], hi = id[2 * i + 1];
  uint64_t b = home_in(hash_id(lo, hi), p->scale, cap);
  /* At most `cap` slots: the index always keeps an empty one, but a bad array must not spin. */
  for (uint64_t k = 0; k < cap && s[3 * b + 2] != 0; k++) {
    if (s[3 * b] == lo && s[3 * b + 1] == hi) return (int32_t)(s[3 * b + 2] - 1);
    if (++b == cap) b = 0;
  }
  return -1;
}

/*
 * The row of the first slot of id i's probe in the [tag, row + 1] slots of `p` whose tag is the
 * id's hash, or -1 (the caller confirms the id); prefetches as probe_at does.
 */
static inline int32_t probe_tag_at(const Probe *p, int64_t i) {
  const uint32_t *s = p->s, *id = p->id;
  const uint64_t cap = p->cap;
  if (i + AHEAD < p->n) __builtin_prefetch(s + 2 * home_of(hash_id(id[2 * (i + AHEAD)], id[2 * (i + AHEAD) + 1]), p->scale));
  const uint32_t t = hash_id(id[2 * i], id[2 * i + 1]);
  uint64_t b = home_in(t, p->scale, cap);
  for (uint64_t k = 0; k < cap && s[2 * b + 1] != 0; k++) {
    if (s[2 * b] == t) return (int32_t)(s[2 * b + 1] - 1);
    if (++b == cap) b = 0;
  }
  return -1;
}

/* probeIds (tags 0) and probeTags (tags 1): rows[i] = probe_at or probe_tag_at of id i. */
static napi_value probe(napi_env env, napi_callback_info info, int tags) {
  napi_value argv[5];
  Probe p;
  const char *fn = tags ? "probeTags" : "probeIds";
  if (!get_args(env, info, 5, argv, fn) || !probe_args(env, argv, tags ? 2 : 3, fn, &p)) return NULL;
  int64_t missing = 0;
  for (int64_t i = 0; i < p.n; i++) {
    const int32_t row = tags ? probe_tag_at(&p, i) : probe_at(&p, i);
    p.rows[i] = row;
    if (row < 0) missing++;
  }
  return tags ? NULL : number(env, (double)missing);
}

napi_value ProbeIds(napi_env env, napi_callback_info info) { return probe(env, info, 0); }
napi_value ProbeTags(napi_env env, napi_callback_info info) { return probe(env, info, 1); }

/*
 * The PS's check that it owns every id of a request (checkIds of src/ps/ps-node.ts): the index of
 * the first id whose bucket b (bucketOf over owned.length buckets) has owned[b] == 0, or -1.
 */
napi_value FirstNotOwned(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Array ids, owned;
  int64_t n;
  const char *fn = "firstNotOwned";
  if (!get_args(env, info, 3, argv, fn) || !get_array(env, argv[0], napi_uint32_array, 0, fn, "ids", &ids) ||
      !get_int(env, argv[1], 0, INT32_MAX, fn, "n", &n) || !get_array(env, argv[2], napi_uint8_array, 0, fn, "owned", &owned)) {
    return NULL;
  }
  if ((uint64_t)n * 2 > ids.length || owned.length == 0 || owned.length > 65536) {
    fail_range(env, fn, "ids hold fewer than n ids, or owned is not 1 to 65,536 buckets");
    return NULL;
  }
  const uint32_t *id = ids.data;
  const uint8_t *own = owned.data;
  const uint64_t buckets = owned.length;
  for (int64_t i = 0; i < n; i++) {
    if (own[bucket_of(id[2 * i], id[2 * i + 1], buckets)] == 0) return number(env, (double)i);
  }
  return number(env, -1);
}

/* Checks the shared gather arguments: rows, n, dim, out, outOff. */
static int gather_args(napi_env env, napi_value *argv, const char *fn, Array *rows, int64_t *n, int64_t *dim, Array *out, int64_t *off);

/*
 * probeIds and gatherF32 in one pass (a pull of a table without admission or eviction): id i is
 * probed while the row of id i - AHEAD, prefetched when its probe found it, is copied, so the
 * misses on the index and on the rows overlap. Rows of absent ids are left as they were, so
 * the caller, finding any absent, resolves and gathers the batch again as before.
 */
napi_value ProbeGatherF32(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  Array rows, out;
  Probe p;
  Slabs sl;
  int64_t shift, stride, n2, dim, off;
  const char *fn = "probeGatherF32";
  if (!get_args(env, info, 11, argv, fn) || !probe_args(env, argv, 3, fn, &p) ||
      !slabs_open(env, argv[5], napi_float32_array, fn, &sl) || !get_int(env, argv[6], 0, 24, fn, "shift", &shift) ||
      !get_int(env, argv[7], 1, 1 << 22, fn, "stride", &stride) || !gather_args(env, (napi_value[]){argv[4], argv[3], argv[8], argv[9], argv[10]}, fn, &rows, &n2, &dim, &out, &off)) {
    return NULL;
  }
  if (dim > stride) {
    fail_range(env, fn, "dim exceeds the row stride");
    return NULL;
  }
  const int64_t n = p.n;
  int32_t *r = p.rows;
  float *o = (float *)out.data + off;
  const float *src[AHEAD];
  int64_t missing = 0;
  for (int64_t i = 0; i < n + AHEAD; i++) {
    const int64_t j = i - AHEAD; /* first the row found AHEAD ids ago: its entry of src is i's next */
    if (j >= 0 && src[j % AHEAD] != NULL) memcpy(o + j * dim, src[j % AHEAD], (size_t)dim * sizeof(float));
    if (i < n) {
      const int32_t row = probe_at(&p, i);
      r[i] = row;
      src[i % AHEAD] = NULL;
      if (row < 0) {
        missing++;
      } else {
        src[i % AHEAD] = row_at(env, &sl, (uint32_t)row, shift, stride, dim, sizeof(float), fn);
        if (src[i % AHEAD] == NULL) return NULL;
        __builtin_prefetch(src[i % AHEAD]);
      }
    }
  }
  return number(env, (double)missing);
}
static int gather_args(napi_env env, napi_value *argv, const char *fn, Array *rows, int64_t *n, int64_t *dim, Array *out, int64_t *off) {
  if (!get_array(env, argv[0], napi_int32_array, 0, fn, "rows", rows) || !get_int(env, argv[1], 0, INT32_MAX, fn, "n", n) ||
      !get_int(env, argv[2], 1, 1 << 20, fn, "dim", dim) || !get_array(env, argv[3], napi_float32_array, 0, fn, "out", out) ||
      !get_int(env, argv[4], 0, INT64_C(1) << 50, fn, "outOff", off)) {
    return 0;
  }
  return within(env, fn, (uint64_t)*n <= rows->length && (uint64_t)*off + (uint64_t)*n * (uint64_t)*dim <= out->length,
                "rows hold fewer than n rows, or out is too short for n rows of dim from outOff");
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
  napi_value argv[10];
  Slabs sl;
  Array slots, g, undo;
  int64_t shift, stride, dim, u;
  double lr, eps;
  const char *fn = "adagradF32";
  if (!get_args(env, info, 10, argv, fn) || !slabs_open(env, argv[0], napi_float32_array, fn, &sl) ||
      !get_int(env, argv[1], 0, 24, fn, "shift", &shift) || !get_int(env, argv[2], 1, 1 << 22, fn, "stride", &stride) ||
      !get_int(env, argv[3], 1, 1 << 20, fn, "dim", &dim) || !get_array(env, argv[4], napi_int32_array, 0, fn, "slots", &slots) ||
      !get_int(env, argv[5], 0, INT32_MAX, fn, "u", &u) || !get_array(env, argv[6], napi_float32_array, 0, fn, "g", &g) ||
      napi_get_value_double(env, argv[7], &lr) != napi_ok || napi_get_value_double(env, argv[8], &eps) != napi_ok ||
      !get_array(env, argv[9], napi_float32_array, 0, fn, "undo", &undo)) {
    return NULL;
  }
  if (2 * dim > stride || (uint64_t)u > slots.length || (uint64_t)u * (uint64_t)dim > g.length) {
    fail_range(env, fn, "a row holds fewer than 2 * dim floats, or slots or g hold fewer than u rows");
    return NULL;
  }
  /* undo: empty for none, else each row as it was, before its update (the caller's rollback) */
  float *saved = undo.length == 0 ? NULL : undo.data;
  if (saved != NULL && (uint64_t)u * (uint64_t)stride > undo.length) {
    fail_range(env, fn, "undo holds fewer than u rows of stride floats");
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
    if (saved != NULL) memcpy(saved + (uint64_t)k * (uint64_t)stride, w, (size_t)stride * sizeof(float));
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

