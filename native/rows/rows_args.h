/*
 * What the files of the tessera_rows addon share (native/tessera_rows.c has the exports): typed
 * array and integer arguments read and checked, RangeErrors naming what was wrong, and the row
 * slabs of one call, read from their JavaScript array as rows first touch them.
 */
#ifndef TESSERA_ROWS_ARGS_H
#define TESSERA_ROWS_ARGS_H
#include <node_api.h>
#include <stdint.h>
#include <stddef.h>

/* Kernels run this many ids or rows ahead of the one they resolve, prefetching its memory. */
#define AHEAD 8

typedef struct {
  void *data;
  size_t length; /* elements */
  napi_typedarray_type type;
} Array;

/*
 * The slabs of one call, read from their JS array as rows first touch them, through a
 * direct-mapped cache of SLAB_CACHE entries (slab k in entry k % SLAB_CACHE): no allocation per
 * call, and a table of more slabs than that only re-reads a slab whose entry another took.
 */
#define SLAB_CACHE 256
typedef struct {
  napi_value array;
  uint32_t count;
  napi_typedarray_type type;
  uint32_t slab[SLAB_CACHE]; /* which slab each entry holds; UINT32_MAX: none */
  void *data[SLAB_CACHE];
  size_t length[SLAB_CACHE];
} Slabs;

/* The cached data of slab k, or NULL (for prefetching: it never reads the JS array). */
static inline const void *slab_cached(const Slabs *sl, uint32_t k) {
  return sl->slab[k % SLAB_CACHE] == k ? sl->data[k % SLAB_CACHE] : NULL;
}

/* Throws a RangeError "tessera_rows.<fn>: <what>". */
void fail_range(napi_env env, const char *fn, const char *what);
/* `ok`, after throwing a RangeError naming `what` (fail_range) when it is 0: a check's last step. */
static inline int within(napi_env env, const char *fn, int ok, const char *what) {
  if (!ok) fail_range(env, fn, what);
  return ok;
}
/* Reads exactly `want` arguments into argv, or throws a TypeError. */
int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn);
/* A typed array of `type` (any32: Int32Array or Uint32Array), or a TypeError naming `name`. */
int get_array(napi_env env, napi_value v, napi_typedarray_type type, int any32, const char *fn, const char *name, Array *out);
/* An integer in [min, max], or a RangeError naming `name`. */
int get_int(napi_env env, napi_value v, int64_t min, int64_t max, const char *fn, const char *name, int64_t *out);
/* A positive number, or a RangeError naming `name`. */
int get_double(napi_env env, napi_value v, const char *fn, const char *name, double *out);
napi_value number(napi_env env, double x);
/* Starts reading the slabs of one call from the JS array `v` (typed arrays of `type`). */
int slabs_open(napi_env env, napi_value v, napi_typedarray_type type, const char *fn, Slabs *sl);
/* Slab `k` (its data and length in elements), or 0 with an exception pending. */
int slab_at(napi_env env, Slabs *sl, uint32_t k, const char *fn, void **data, size_t *length);

/*
 * Element offset of row `row` (slab row >> shift, `width` elements from (row & mask) * stride),
 * as a pointer into its slab, or NULL with a RangeError pending (row beyond the slabs or its slab).
 */
void *row_at(napi_env env, Slabs *sl, uint32_t row, int64_t shift, int64_t stride, int64_t width, size_t elem, const char *fn);

/*
 * On x86-64 Linux a loop marked WIDEST_CPU is built three times, for AVX-512, AVX2 and the
 * baseline, and the loader picks the widest the CPU has (GCC's target_clones). Results do not
 * depend on the width: IEEE division and square root are correctly rounded at every width,
 * integer arithmetic is exact, and -ffp-contract=off keeps multiply and add apart in every clone.
 */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define WIDEST_CPU __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDEST_CPU
#endif

/* The xorshift-multiply finalizer both id hashes end with: shifts 16, s, 16 around two multiplies. */
static inline uint32_t mix32(uint32_t h, uint32_t c1, int s, uint32_t c2) {
  h ^= h >> 16;
  h *= c1;
  h ^= h >> s;
  h *= c2;
  h ^= h >> 16;
  return h;
}

/* murmur3's fmix32 finalizer (src/common/fmix32.ts). */
static inline uint32_t fmix32(uint32_t h) { return mix32(h, 0x85ebca6bu, 13, 0xc2b2ae35u); }

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
  return fmix32(mix_block(mix_block(0, lo), hi) ^ 8);
}

/* bucketOf of src/sharding/buckets.ts: floor(hash * numBuckets / 2^32), exact in integers. */
static inline uint32_t bucket_of(uint32_t lo, uint32_t hi, uint64_t numBuckets) {
  return (uint32_t)(((uint64_t)bucket_hash(lo, hi) * numBuckets) >> 32);
}

/* The exports (native/rows/ps_kernels.c, client_kernels.c, store_kernels.c, dense_kernels.c). */
napi_value ProbeIds(napi_env env, napi_callback_info info);
napi_value ProbeTags(napi_env env, napi_callback_info info);
napi_value GatherF32(napi_env env, napi_callback_info info);
napi_value GatherF16(napi_env env, napi_callback_info info);
napi_value FirstNonFinite(napi_env env, napi_callback_info info);
napi_value SumGrads(napi_env env, napi_callback_info info);
napi_value AdagradF32(napi_env env, napi_callback_info info);
napi_value Dedup(napi_env env, napi_callback_info info);
napi_value CopyRowsTo(napi_env env, napi_callback_info info);
napi_value CopyRowsFrom(napi_env env, napi_callback_info info);
napi_value DedupSlice(napi_env env, napi_callback_info info);
napi_value FirstNotOwned(napi_env env, napi_callback_info info);
napi_value ProbeGatherF32(napi_env env, napi_callback_info info);
/* native/rows/store_kernels.c, dense_kernels.c */
napi_value RehashIds(napi_env env, napi_callback_info info);
napi_value InitUniformF32(napi_env env, napi_callback_info info);
napi_value AdamDense(napi_env env, napi_callback_info info);

#endif
