/*
 * tessera_rows: the data plane's hot loops over rows and ids, run natively (ADR 0041).
 *
 * Every function works in place on typed arrays the caller owns (no copy in or out, nothing kept
 * between calls) and computes exactly what its JavaScript twin computes, so either may run:
 * src/common/native-rows.ts loads this addon and falls back to the JavaScript loops without it.
 * Every index is checked against the array it reads or writes before it is used; a bad one
 * throws a RangeError naming it, and nothing past it is written. The kernels live in native/rows/:
 * ps_kernels.c (the PS's), store_kernels.c (the PS store's growth), dense_kernels.c (the dense
 * table's Adam), client_kernels.c (the client's), rows_args.c (argument checks).
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
 *   probeGatherF32(slots, scale, ids, n, rows, slabs, shift, stride, dim, out, outOff) -> missing
 *       probeIds then gatherF32 over its rows, in one pass (the row of id i - 8 is copied while id
 *       i is probed); rows of absent ids are not written.
 *   gatherF16(slabs, shift, rows, n, dim, out, outOff)
 *       F16RowSlabs.gather: the same from fp16 weight slabs of `dim` halves per row, decoded.
 *   dedup(ids, n, table, slots, stamp, unique, inverse) -> count
 *       Deduper.dedupInto (src/sharding/dedup.ts): table holds `slots` (a power of two >= 2n)
 *       slots of 4 words [lo, hi, 1 + distinct index, stamp]; a slot is empty unless its stamp
 *       is this call's (nothing is cleared between calls). unique[0, 2 count) the distinct ids in
 *       first-occurrence order, inverse[i] the index of id i among them.
 *   dedupSlice(ids, n, table, slots, stamp, unique, inverse, numBuckets, owner, owners, counts, words) -> count
 *       Deduper.dedupAndSlice: dedup, and in the same pass the owner of each new distinct id
 *       (owner[bucket], bucketOf of src/sharding/buckets.ts over numBuckets, from the same hash
 *       as its slot) to owners[k], counts[owner] (zeroed first; counts.length is the PS count);
 *       then the slices into words, PS 0 first: each owner's ids, then their distinct indexes.
 *   copyRowsTo(src, dst, at, from, to, dim)    row k - from of src to row at[k] of dst, k in [from, to)
 *   copyRowsFrom(src, dst, at, from, to, dim)  row at[k] of src to row k - from of dst, k in [from, to)
 *   firstNotOwned(ids, n, owned) -> index or -1
 *       checkIds of src/ps/ps-node.ts: the first id whose bucket (bucketOf over owned.length
 *       buckets) has owned[bucket] == 0 (a Uint8Array, bucket -> 1 when this PS owns it).
 *   firstNonFinite(values) -> index or -1
 *       checkFinite's scan (src/ps/store/row-ops.ts): the first NaN or ±Infinity of a Float32Array.
 *   sumGrads(rows, n, grads, dim, table, bits, uniq, gsum) -> u
 *       GradSum.sum (src/ps/store/grad-sum.ts): table[0, 2^bits) must be -1.
 *   adagradF32(slabs, shift, stride, dim, slots, u, g, lr, eps, undo) -> -1 or k
 *       AdagradOptimizer.apply to f32 rows slots[0, u) with gradient rows of g, in float64 as the
 *       JS does, first copying each whole row to undo[k * stride ..] unless undo is empty; stops
 *       at the first row left holding a non-finite weight or state and returns its k (rows up to
 *       it stay updated: the caller rolls them back from undo).
 *   adamDense(w, s, g, undo, beta1, beta2, eps, lrT) -> 1, or 0 when a weight or moment was left
 *       non-finite: AdamOptimizer.apply's loop over a whole dense table (DenseTable.push), m in
 *       s[0, n) and v in s[n, 2n) with n = w.length, in float64 as the JS does, in the same pass
 *       copying the old w, m and v to undo[0, 3n); the caller has already advanced the step count
 *       and computed lrT, and rolls back from undo.
 *   rehashIds(old, slots, scale)
 *       IdIndex.rehash (id-index.ts): every entry of the [lo, hi, row + 1] slots `old`, in order,
 *       into the empty `slots`, whose capacity / 2^32 is `scale`.
 *   initUniformF32(slabs, shift, stride, dim, rows, ids, k, seed, scale, acc)
 *       F32RowSlabs.initRows: row rows[i] (i < k) gets initRow's uniform weights of id
 *       (ids[2i], ids[2i + 1]) for table seed `seed` (initializers.ts) and `acc` in its state.
 */
#include "rows/rows_args.h"

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"probeIds", NULL, ProbeIds, NULL, NULL, NULL, napi_default, NULL},
    {"probeTags", NULL, ProbeTags, NULL, NULL, NULL, napi_default, NULL},
    {"gatherF32", NULL, GatherF32, NULL, NULL, NULL, napi_default, NULL},
    {"probeGatherF32", NULL, ProbeGatherF32, NULL, NULL, NULL, napi_default, NULL},
    {"gatherF16", NULL, GatherF16, NULL, NULL, NULL, napi_default, NULL},
    {"dedup", NULL, Dedup, NULL, NULL, NULL, napi_default, NULL},
    {"copyRowsTo", NULL, CopyRowsTo, NULL, NULL, NULL, napi_default, NULL},
    {"copyRowsFrom", NULL, CopyRowsFrom, NULL, NULL, NULL, napi_default, NULL},
    {"dedupSlice", NULL, DedupSlice, NULL, NULL, NULL, napi_default, NULL},
    {"firstNotOwned", NULL, FirstNotOwned, NULL, NULL, NULL, napi_default, NULL},
    {"firstNonFinite", NULL, FirstNonFinite, NULL, NULL, NULL, napi_default, NULL},
    {"sumGrads", NULL, SumGrads, NULL, NULL, NULL, napi_default, NULL},
    {"adagradF32", NULL, AdagradF32, NULL, NULL, NULL, napi_default, NULL},
    {"adamDense", NULL, AdamDense, NULL, NULL, NULL, napi_default, NULL},
    {"rehashIds", NULL, RehashIds, NULL, NULL, NULL, napi_default, NULL},
    {"initUniformF32", NULL, InitUniformF32, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
