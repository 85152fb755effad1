/*
 * The client's kernels of tessera_rows (ADR 0041): id dedup, slicing by owner and row copies
 * (stitch, gather). Each computes exactly what its JavaScript twin computes.
 */
#include "rows_args.h"

#include <stdlib.h>
#include <string.h>

/*
 * A slot of Deduper's table (src/sharding/dedup.ts): the id, 1 + its index among the distinct
 * ids, and the stamp of the call that wrote it. A slot whose stamp is not the call's is empty,
 * so a call clears nothing: the next call's stamp empties every slot at once.
 */
typedef struct {
  uint32_t lo, hi, val, stamp;
} DedupSlot;

/* Where dedupSlice puts each new distinct id's owner (NULL for plain dedup). */
typedef struct {
  uint64_t numBuckets;
  const uint16_t *owner; /* bucket -> PS index */
  uint32_t numPs;
  uint16_t *owners;      /* distinct index -> PS index */
  uint32_t *counts;      /* PS index -> distinct ids it owns */
} DedupOwners;

/*
 * Deduper.dedupInto: unique[0, 2k) the distinct ids in first-occurrence order, inverse[i] the
 * index of id i among them; returns k, or -1 with a RangeError pending (an owner beyond numPs).
 * One hash per id serves both the table (its low bits) and, with `own`, the id's bucket (its
 * high bits: bucket_of); the slot of id i + AHEAD is prefetched while id i is probed.
 */
static int64_t dedup_pass(napi_env env, const char *fn, const uint32_t *id, int64_t n, DedupSlot *t, uint32_t mask,
                          uint32_t stamp, uint32_t *u, uint32_t *inv, const DedupOwners *own) {
  uint32_t ring[AHEAD];
  for (int64_t i = 0; i < n && i < AHEAD; i++) {
    ring[i] = bucket_hash(id[2 * i], id[2 * i + 1]);
    __builtin_prefetch(&t[ring[i] & mask], 1);
  }
  uint32_t k = 0;
  for (int64_t i = 0; i < n; i++) {
    const uint32_t lo = id[2 * i], hi = id[2 * i + 1], h = ring[(size_t)i % AHEAD];
    if (i + AHEAD < n) {
      const uint32_t next = bucket_hash(id[2 * (i + AHEAD)], id[2 * (i + AHEAD) + 1]);
      ring[(size_t)i % AHEAD] = next;
      __builtin_prefetch(&t[next & mask], 1);
    }
    for (uint32_t s = h & mask;; s = (s + 1) & mask) {
      DedupSlot *e = &t[s];
      if (e->stamp != stamp) {
        if (own) {
          const uint16_t o = own->owner[((uint64_t)h * own->numBuckets) >> 32];
          if (o >= own->numPs) {
            fail_range(env, fn, "the shard map names a PS index beyond counts");
            return -1;
          }
          own->owners[k] = o;
          own->counts[o]++;
        }
        e->lo = lo;
        e->hi = hi;
        e->val = k + 1;
        e->stamp = stamp;
        u[2 * k] = lo;
        u[2 * k + 1] = hi;
        inv[i] = k++;
        break;
      }
      if (e->lo == lo && e->hi == hi) {
        inv[i] = e->val - 1;
        break;
      }
    }
  }
  return k;
}

/* The arguments dedup and dedupSlice share: ids, n, table, slots, stamp, unique, inverse. */
typedef struct {
  Array ids, table, unique, inverse;
  int64_t n, slots, stamp;
} DedupArgs;

static int dedup_args(napi_env env, napi_value *argv, const char *fn, DedupArgs *a) {
  if (!get_array(env, argv[0], napi_uint32_array, 0, fn, "ids", &a->ids) || !get_int(env, argv[1], 0, INT32_MAX, fn, "n", &a->n) ||
      !get_array(env, argv[2], napi_uint32_array, 0, fn, "table", &a->table) ||
      !get_int(env, argv[3], 1, INT64_C(1) << 30, fn, "slots", &a->slots) || !get_int(env, argv[4], 1, UINT32_MAX, fn, "stamp", &a->stamp) ||
      !get_array(env, argv[5], napi_uint32_array, 0, fn, "unique", &a->unique) ||
      !get_array(env, argv[6], napi_uint32_array, 0, fn, "inverse", &a->inverse)) {
    return 0;
  }
  const int64_t n = a->n, slots = a->slots;
  return within(env, fn, (slots & (slots - 1)) == 0 && slots >= 2 * n && (uint64_t)slots * 4 <= a->table.length &&
                (uint64_t)n * 2 <= a->ids.length && (uint64_t)n * 2 <= a->unique.length && (uint64_t)n <= a->inverse.length,
                "slots must be a power of two >= 2n within the table (4 words a slot), and ids, unique and inverse hold n ids");
}

napi_value Dedup(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  DedupArgs a;
  const char *fn = "dedup";
  if (!get_args(env, info, 7, argv, fn) || !dedup_args(env, argv, fn, &a)) return NULL;
  const int64_t k = dedup_pass(env, fn, a.ids.data, a.n, a.table.data, (uint32_t)(a.slots - 1), (uint32_t)a.stamp, a.unique.data,
                               a.inverse.data, NULL);
  return number(env, (double)k);
}

/*
 * The distinct ids of each owner, PS 0 first, into `words`: owner p's c_p ids (2 words each),
 * then their c_p indexes among the distinct ids, ascending; owners of no id take no words.
 */
static int fill_slices(const uint32_t *u, uint32_t k, const uint16_t *owners, const uint32_t *counts, uint32_t numPs, uint32_t *w) {
  size_t *at = malloc(2 * (size_t)numPs * sizeof *at);
  if (!at) return 0;
  size_t *pos = at + numPs, off = 0;
  for (uint32_t p = 0; p < numPs; p++) {
    at[p] = 3 * off;
    pos[p] = 3 * off + 2 * (size_t)counts[p];
    off += counts[p];
  }
  for (uint32_t j = 0; j < k; j++) {
    const uint16_t o = owners[j];
    w[at[o]++] = u[2 * j];
    w[at[o]++] = u[2 * j + 1];
    w[pos[o]++] = j;
  }
  free(at);
  return 1;
}

napi_value DedupSlice(napi_env env, napi_callback_info info) {
  napi_value argv[12];
  DedupArgs a;
  Array owner, owners, counts, words;
  int64_t numBuckets;
  const char *fn = "dedupSlice";
  if (!get_args(env, info, 12, argv, fn) || !dedup_args(env, argv, fn, &a) ||
      !get_int(env, argv[7], 1, 65536, fn, "numBuckets", &numBuckets) || !get_array(env, argv[8], napi_uint16_array, 0, fn, "owner", &owner) ||
      !get_array(env, argv[9], napi_uint16_array, 0, fn, "owners", &owners) || !get_array(env, argv[10], napi_uint32_array, 0, fn, "counts", &counts) ||
      !get_array(env, argv[11], napi_uint32_array, 0, fn, "words", &words)) {
    return NULL;
  }
  if ((uint64_t)numBuckets > owner.length || (uint64_t)a.n > owners.length || (uint64_t)a.n * 3 > words.length || counts.length > 65536) {
    fail_range(env, fn, "owner holds fewer than numBuckets buckets, owners fewer than n ids, words fewer than 3n, or counts more than 65,536 PS");
    return NULL;
  }
  uint32_t *cnt = counts.data;
  memset(cnt, 0, counts.length * sizeof *cnt);
  const DedupOwners own = { (uint64_t)numBuckets, owner.data, (uint32_t)counts.length, owners.data, cnt };
  const int64_t k = dedup_pass(env, fn, a.ids.data, a.n, a.table.data, (uint32_t)(a.slots - 1), (uint32_t)a.stamp, a.unique.data,
                               a.inverse.data, &own);
  if (k < 0) return NULL;
  if (!fill_slices(a.unique.data, (uint32_t)k, owners.data, cnt, (uint32_t)counts.length, words.data)) {
    napi_throw_error(env, NULL, "tessera_rows.dedupSlice: out of memory");
    return NULL;
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
  return within(env, fn, *from <= *to && (uint64_t)*to <= at->length, "[from, to) is not within at");
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
