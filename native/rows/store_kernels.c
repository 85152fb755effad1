/*
 * The PS store's kernels of tessera_rows that grow it: the id index's rehash when it grows, and
 * the initial rows of new ids. Each computes exactly what its JavaScript twin computes.
 */
#include "rows_args.h"
#include "id_hash.h"

/*
 * IdIndex.rehash (src/ps/store/id-index.ts): every full [lo, hi, row + 1] slot of `old`, in
 * order, into the first empty slot from its home in the empty `slots` (scale: their capacity /
 * 2^32). Old slots are visited in order and homes grow with the hash, so the writes run almost
 * sequentially; the slot AHEAD entries on is prefetched for the rest.
 */
napi_value RehashIds(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Array old, slots;
  double scale;
  const char *fn = "rehashIds";
  if (!get_args(env, info, 3, argv, fn) || !get_array(env, argv[0], napi_uint32_array, 0, fn, "old", &old) ||
      !get_array(env, argv[1], napi_uint32_array, 0, fn, "slots", &slots) || !get_double(env, argv[2], fn, "scale", &scale)) {
    return NULL;
  }
  const uint64_t cap = slots.length / 3;
  if (cap == 0 || slots.length % 3 != 0 || old.length % 3 != 0 || (double)cap / 4294967296.0 != scale) {
    fail_range(env, fn, "old or slots is not whole 3-word slots, or scale is not the slots' capacity / 2^32");
    return NULL;
  }
  const uint32_t *o = old.data;
  uint32_t *s = slots.data;
  const uint64_t words = old.length;
  for (uint64_t a = 0; a < words; a += 3) {
    const uint32_t r = o[a + 2];
    if (r == 0) continue;
    const uint32_t lo = o[a], hi = o[a + 1];
    uint64_t b = home_in(hash_id(lo, hi), scale, cap);
    uint64_t k = 0;
    for (; k < cap && s[3 * b + 2] != 0; k++) {
      if (++b == cap) b = 0;
    }
    if (k == cap) {
      fail_range(env, fn, "slots has no empty slot left for old's ids");
      return NULL;
    }
    s[3 * b] = lo;
    s[3 * b + 1] = hi;
    s[3 * b + 2] = r;
  }
  return NULL;
}

/* initializers.ts's counter-based uniform stream: its GOLDEN and the two halves of a row's key. */
#define GOLDEN 0x9e3779b9u
static inline uint32_t row_key_a(uint32_t seed, uint32_t lo) { return fmix32(lo ^ fmix32(seed ^ GOLDEN)); }
static inline uint32_t row_key_b(uint32_t seed, uint32_t hi, uint32_t a) { return fmix32(hi ^ (a * 0x27d4eb2du) ^ seed); }
/* uniformAt: uniform in (0, 1) for counter c of the row keyed (a, b), in doubles as the JS does. */
static inline double uniform_at(uint32_t a, uint32_t b, uint32_t c) {
  const uint32_t x = fmix32(a + (c + 1) * GOLDEN);
  return ((double)fmix32(x ^ b) + 0.5) * (1.0 / 4294967296.0);
}

/* One row: `dim` uniform weights of the row keyed (a, b), then `acc` up to `stride`. */
WIDEST_CPU static void init_row(float *restrict w, int64_t dim, int64_t stride, uint32_t a, uint32_t b, double two_scale, float acc) {
  for (int64_t j = 0; j < dim; j++) w[j] = (float)((uniform_at(a, b, (uint32_t)j) - 0.5) * two_scale);
  for (int64_t j = dim; j < stride; j++) w[j] = acc;
}

/*
 * F32RowSlabs.initRows: new rows rows[i] of ids (ids[2i], ids[2i + 1]) get initRow's uniform
 * weights in [-scale, scale) (initializers.ts) and Adagrad's initial accumulator `acc` in every
 * state float of the row (stride - dim of them).
 */
napi_value InitUniformF32(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  Slabs sl;
  Array rows, ids;
  int64_t shift, stride, dim, k, seed;
  double scale, acc;
  const char *fn = "initUniformF32";
  if (!get_args(env, info, 10, argv, fn) || !slabs_open(env, argv[0], napi_float32_array, fn, &sl) ||
      !get_int(env, argv[1], 0, 24, fn, "shift", &shift) || !get_int(env, argv[2], 1, 1 << 22, fn, "stride", &stride) ||
      !get_int(env, argv[3], 1, 1 << 20, fn, "dim", &dim) || !get_array(env, argv[4], napi_int32_array, 0, fn, "rows", &rows) ||
      !get_array(env, argv[5], napi_uint32_array, 0, fn, "ids", &ids) || !get_int(env, argv[6], 0, INT32_MAX, fn, "k", &k) ||
      !get_int(env, argv[7], 0, UINT32_MAX, fn, "seed", &seed) || napi_get_value_double(env, argv[8], &scale) != napi_ok ||
      napi_get_value_double(env, argv[9], &acc) != napi_ok) {
    return NULL;
  }
  if (dim > stride || (uint64_t)k > rows.length || 2 * (uint64_t)k > ids.length) {
    fail_range(env, fn, "dim exceeds the row stride, or rows or ids hold fewer than k rows");
    return NULL;
  }
  const int32_t *r = rows.data;
  const uint32_t *id = ids.data;
  const uint32_t s = (uint32_t)seed;
  const double two_scale = 2 * scale;
  const float accf = (float)acc;
  for (int64_t i = 0; i < k; i++) {
    if (r[i] < 0) {
      fail_range(env, fn, "a row is negative");
      return NULL;
    }
    float *w = row_at(env, &sl, (uint32_t)r[i], shift, stride, stride, sizeof(float), fn);
    if (w == NULL) return NULL;
    const uint32_t a = row_key_a(s, id[2 * i]);
    const uint32_t b = row_key_b(s, id[2 * i + 1], a);
    init_row(w, dim, stride, a, b, two_scale, accf);
  }
  return NULL;
}
