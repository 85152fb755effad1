/*
 * The PS store's kernels of tessera_rows that only grow or initialise it: the id index's rehash
 * when it grows. Each computes exactly what its JavaScript twin computes.
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
