/*
 * The dense table's kernel of tessera_rows: Adam over a whole dense vector (DenseTable.push), with
 * the push's undo copy taken in the same pass. It computes exactly what AdamOptimizer.apply
 * computes: float64 per element, rounded to float32, no fused multiply-adds.
 */
#include "rows_args.h"

#include <math.h>
#include <string.h>

/* 1 when the float's exponent bits are all ones (NaN or ±Infinity): integer ops, so it vectorizes. */
static inline uint32_t non_finite_bits(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return ((b >> 23) & 0xffu) == 0xffu;
}

/*
 * Elements [0, n): old w, m, v to undo[j], undo[n + j], undo[2n + j], then Adam's update in
 * place. Returns nonzero when a new weight or moment is non-finite. Built for the widest CPU
 * (rows_args.h): 8 or 4 float64 divisions and square roots a step instead of 2.
 */
WIDEST_CPU static uint32_t adam_loop(float *restrict wv, float *restrict m, float *restrict v, const float *restrict gv,
                                     float *restrict undo, size_t n, double b1, double b2, double eps, double lr_t) {
  uint32_t bad = 0;
  for (size_t j = 0; j < n; j++) {
    const float w0 = wv[j], m0 = m[j], v0 = v[j];
    undo[j] = w0;
    undo[n + j] = m0;
    undo[2 * n + j] = v0;
    const double gj = gv[j];
    const double mj = b1 * (double)m0 + (1 - b1) * gj;
    const double vj = b2 * (double)v0 + (1 - b2) * gj * gj;
    const float mf = (float)mj, vf = (float)vj;
    const float wf = (float)((double)w0 - (lr_t * mj) / (sqrt(vj) + eps));
    m[j] = mf;
    v[j] = vf;
    wv[j] = wf;
    bad |= non_finite_bits(mf) | non_finite_bits(vf) | non_finite_bits(wf);
  }
  return bad;
}

napi_value AdamDense(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  Array w, s, g, undo;
  double b1, b2, eps, lr_t;
  const char *fn = "adamDense";
  if (!get_args(env, info, 8, argv, fn) || !get_array(env, argv[0], napi_float32_array, 0, fn, "w", &w) ||
      !get_array(env, argv[1], napi_float32_array, 0, fn, "s", &s) || !get_array(env, argv[2], napi_float32_array, 0, fn, "g", &g) ||
      !get_array(env, argv[3], napi_float32_array, 0, fn, "undo", &undo) ||
      napi_get_value_double(env, argv[4], &b1) != napi_ok || napi_get_value_double(env, argv[5], &b2) != napi_ok ||
      napi_get_value_double(env, argv[6], &eps) != napi_ok || napi_get_value_double(env, argv[7], &lr_t) != napi_ok) {
    return NULL;
  }
  const size_t n = w.length;
  if (s.length < 2 * n || g.length < n || undo.length < 3 * n) {
    fail_range(env, fn, "s holds fewer than 2 * w.length floats, g fewer than w.length, or undo fewer than 3 * w.length");
    return NULL;
  }
  /* restrict: the loop reads and writes each of them apart */
  const char *lo[4] = {w.data, s.data, g.data, undo.data};
  const size_t len[4] = {n * 4, 2 * n * 4, n * 4, 3 * n * 4};
  for (int a = 0; a < 4; a++) {
    for (int b = a + 1; b < 4; b++) {
      if (lo[a] < lo[b] + len[b] && lo[b] < lo[a] + len[a]) {
        fail_range(env, fn, "w, s, g and undo overlap");
        return NULL;
      }
    }
  }
  float *m = s.data;
  const uint32_t bad = adam_loop(w.data, m, m + n, g.data, undo.data, n, b1, b2, eps, lr_t);
  return number(env, bad ? 0 : 1);
}
