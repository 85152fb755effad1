/*
 * tessera_blas: matrix kernels for tfjs's wasm backend, run natively through OpenBLAS.
 *
 * The wasm backend keeps every tensor in one WebAssembly heap. These functions take that heap as
 * a typed array (tfjs's HEAPU8) plus byte offsets, so they read and write tensors in place: no
 * copy in or out. Every range is checked against the heap before any work, and a bad argument
 * throws a RangeError / TypeError naming it instead of touching memory.
 *
 * Exports (all synchronous, called on the JS thread that owns the heap):
 *   gemm(heap, a, b, c, bias, batch, m, n, k, transA, transB, strideA, strideB, relu)
 *       c[i] = act(op(a[i]) · op(b[i]) + bias) for i < batch, row-major float32.
 *       op(x) transposes when trans* is true; a[i] starts at a + 4·i·strideA (stride 0 broadcasts).
 *       bias < 0 means none, else a float32[n] added to every row; relu != 0 applies max(0, ·).
 *   transpose(heap, x, y, rows, cols)   y[cols, rows] = x[rows, cols]ᵀ, float32.
 *   setThreads(n)                        OpenBLAS worker threads (1 = the calling thread only).
 *   info()                               { corename, threads } of the loaded OpenBLAS.
 *
 * The native tower step (src/model/native-tower-step.ts, ADR 0046) computes on plain Float32Arrays
 * instead of the wasm heap; each array must hold at least the elements named (a view's offset is
 * honoured):
 *   mm(a, b, c, bias, m, n, k, transA, transB, accumulate, relu)
 *       c = act(op(a)·op(b) + bias + (accumulate ? c : 0)), row-major [m, n]; bias null or float32[n].
 *   reluGrad(dh, h, count)               dh[i] = h[i] > 0 ? dh[i] : 0 (the relu's backward from its output).
 *   scale(x, s, count)                   x[i] *= s[i] (a dropout mask).
 *   colSums(x, rows, cols, out)          out[j] = Σ_r x[r, j].
 *   fmForward(emb, batch, fields, dim, sums, out)
 *       sums[b, d] = Σ_f v[b, f, d];  out[b] = 0.5 Σ_d (sums[b, d]² − Σ_f v[b, f, d]²).
 *   fmBackward(emb, sums, g, batch, fields, dim, grad)
 *       grad[b, f, d] = g[b] · (sums[b, d] − v[b, f, d]), the FM term's gradient scaled by dLoss/dlogit.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Declared by OpenBLAS's cblas.h on most builds; repeated so other cblas.h headers compile too. */
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
extern char *openblas_get_corename(void);

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, NULL, "tessera_blas: N-API call failed: " #call); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

typedef struct {
  uint8_t *data;
  size_t bytes;
} Heap;

static int get_heap(napi_env env, napi_value v, Heap *heap) {
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) {
    napi_throw_type_error(env, NULL, "tessera_blas: heap must be a typed array over the wasm memory");
    return 0;
  }
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok) {
    napi_throw_error(env, NULL, "tessera_blas: cannot read the heap typed array");
    return 0;
  }
  if (type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "tessera_blas: heap must be a Uint8Array (tfjs HEAPU8)");
    return 0;
  }
  heap->data = (uint8_t *)data;
  heap->bytes = length;
  return 1;
}

/* A non-negative integer argument; `name` goes into the error. */
static int get_index(napi_env env, napi_value v, const char *name, int64_t min, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != d || d < (double)min || d > 9007199254740991.0 ||
      d != (double)(int64_t)d) {
    char msg[128];
    snprintf(msg, sizeof msg, "tessera_blas: %s must be an integer >= %lld", name, (long long)min);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int get_flag(napi_env env, napi_value v, int *out) {
  bool b;
  if (napi_get_value_bool(env, v, &b) == napi_ok) { *out = b ? 1 : 0; return 1; }
  double d;
  if (napi_get_value_double(env, v, &d) == napi_ok) { *out = d != 0; return 1; }
  napi_throw_type_error(env, NULL, "tessera_blas: flags must be booleans or numbers");
  return 0;
}

/* True when float32 elements [off, off + 4·count) lie inside the heap and off is 4-aligned. */
static int span_ok(napi_env env, const Heap *heap, int64_t off, int64_t count, const char *name) {
  if (off % 4 == 0 && count >= 0 && (uint64_t)off <= heap->bytes && (uint64_t)count <= (heap->bytes - (uint64_t)off) / 4) return 1;
  char msg[160];
  snprintf(msg, sizeof msg, "tessera_blas: %s (byte offset %lld, %lld floats) lies outside the %zu-byte heap or is unaligned",
           name, (long long)off, (long long)count, heap->bytes);
  napi_throw_range_error(env, NULL, msg);
  return 0;
}

/* Reads exactly `want` arguments (at most 16) into argv. */
static int get_plain_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "tessera_blas: cannot read the arguments");
    return 0;
  }
  if (argc != want) {
    char msg[96];
    snprintf(msg, sizeof msg, "tessera_blas.%s: expected %zu arguments, got %zu", fn, want, argc);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

/* Like get_plain_args, the first argument being the heap. */
static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn, Heap *heap) {
  return get_plain_args(env, info, want, argv, fn) && get_heap(env, argv[0], heap);
}

/*
 * max(x, 0) in place (NaN becomes 0). Kept out of line because GCC 12 vectorises it only here:
 * inlined into Gemm it stayed a scalar compare-and-branch, which mispredicts on real activations
 * (about half negative) and cost 2 ms per [1024, 400] output, as much as half the sgemm; the
 * vectorised loop costs under 0.1 ms.
 */
__attribute__((noinline)) static void relu_in_place(float *restrict x, int64_t count) {
  for (int64_t j = 0; j < count; j++) {
    const float v = x[j];
    x[j] = v > 0.0f ? v : 0.0f;
  }
}

static napi_value Gemm(napi_env env, napi_callback_info info) {
  napi_value argv[14];
  Heap heap;
  if (!get_args(env, info, 14, argv, "gemm", &heap)) return NULL;
  int64_t a, b, c, bias, batch, m, n, k, sa, sb;
  int ta, tb, relu;
  if (!get_index(env, argv[1], "a", 0, &a) || !get_index(env, argv[2], "b", 0, &b) ||
      !get_index(env, argv[3], "c", 0, &c) || !get_index(env, argv[4], "bias", -1, &bias) ||
      !get_index(env, argv[5], "batch", 1, &batch) || !get_index(env, argv[6], "m", 1, &m) ||
      !get_index(env, argv[7], "n", 1, &n) || !get_index(env, argv[8], "k", 1, &k) ||
      !get_flag(env, argv[9], &ta) || !get_flag(env, argv[10], &tb) ||
      !get_index(env, argv[11], "strideA", 0, &sa) || !get_index(env, argv[12], "strideB", 0, &sb) ||
      !get_flag(env, argv[13], &relu)) {
    return NULL;
  }
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, NULL, "tessera_blas.gemm: m, n and k must fit in 32 bits");
    return NULL;
  }
  if ((sa != 0 && sa < m * k) || (sb != 0 && sb < k * n)) {
    napi_throw_range_error(env, NULL, "tessera_blas.gemm: strideA/strideB must be 0 or at least one matrix");
    return NULL;
  }
  if (!span_ok(env, &heap, a, sa * (batch - 1) + m * k, "a") || !span_ok(env, &heap, b, sb * (batch - 1) + k * n, "b") ||
      !span_ok(env, &heap, c, batch * m * n, "c") || (bias >= 0 && !span_ok(env, &heap, bias, n, "bias"))) {
    return NULL;
  }
  const int lda = ta ? (int)m : (int)k;
  const int ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    const float *A = (const float *)(heap.data + a) + i * sa;
    const float *B = (const float *)(heap.data + b) + i * sb;
    float *C = (float *)(heap.data + c) + i * m * n;
    float beta = 0.0f;
    if (bias >= 0) {
      const float *bv = (const float *)(heap.data + bias);
      for (int64_t r = 0; r < m; r++) memcpy(C + r * n, bv, (size_t)n * sizeof(float));
      beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, A, lda, B, ldb, beta, C, (int)n);
    if (relu) relu_in_place(C, m * n);
  }
  return NULL;
}

/* Blocked so that both the reads and the writes stay within a few cache lines per tile. */
#define TILE 32
static napi_value Transpose(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Heap heap;
  if (!get_args(env, info, 5, argv, "transpose", &heap)) return NULL;
  int64_t x, y, rows, cols;
  if (!get_index(env, argv[1], "x", 0, &x) || !get_index(env, argv[2], "y", 0, &y) ||
      !get_index(env, argv[3], "rows", 1, &rows) || !get_index(env, argv[4], "cols", 1, &cols)) {
    return NULL;
  }
  if (!span_ok(env, &heap, x, rows * cols, "x") || !span_ok(env, &heap, y, rows * cols, "y")) return NULL;
  const float *X = (const float *)(heap.data + x);
  float *Y = (float *)(heap.data + y);
  for (int64_t r0 = 0; r0 < rows; r0 += TILE) {
    const int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows;
    for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
      const int64_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
      for (int64_t r = r0; r < r1; r++) {
        for (int64_t cc = c0; cc < c1; cc++) Y[cc * rows + r] = X[r * cols + cc];
      }
    }
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n;
  if (argc != 1 || !get_index(env, argv[0], "threads", 1, &n)) return NULL;
  if (n > 256) n = 256;
  openblas_set_num_threads((int)n);
  return NULL;
}

static napi_value Info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj, core, threads;
  CHECK(napi_create_object(env, &obj));
  const char *name = openblas_get_corename();
  CHECK(napi_create_string_utf8(env, name ? name : "unknown", NAPI_AUTO_LENGTH, &core));
  CHECK(napi_create_int32(env, openblas_get_num_threads(), &threads));
  CHECK(napi_set_named_property(env, obj, "corename", core));
  CHECK(napi_set_named_property(env, obj, "threads", threads));
  return obj;
}

/* ---- Kernels on plain Float32Arrays (the native tower step) ---- */


/*
 * A Float32Array of at least `count` elements (null allowed when `nullable`, giving NULL);
 * `name` goes into the error.
 */
static int get_f32(napi_env env, napi_value v, const char *name, int64_t count, int nullable, float **out) {
  napi_valuetype vt;
  if (nullable && napi_typeof(env, v, &vt) == napi_ok && vt == napi_null) { *out = NULL; return 1; }
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float32_array) {
    char msg[96];
    snprintf(msg, sizeof msg, "tessera_blas: %s must be a Float32Array", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  if ((uint64_t)length < (uint64_t)count) {
    char msg[160];
    snprintf(msg, sizeof msg, "tessera_blas: %s holds %zu floats, needs %lld", name, length, (long long)count);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  *out = (float *)data;
  return 1;
}

static napi_value Mm(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_plain_args(env, info, 11, argv, "mm")) return NULL;
  int64_t m, n, k;
  int ta, tb, acc, relu;
  if (!get_index(env, argv[4], "m", 1, &m) || !get_index(env, argv[5], "n", 1, &n) ||
      !get_index(env, argv[6], "k", 1, &k) || !get_flag(env, argv[7], &ta) || !get_flag(env, argv[8], &tb) ||
      !get_flag(env, argv[9], &acc) || !get_flag(env, argv[10], &relu)) {
    return NULL;
  }
  if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, NULL, "tessera_blas.mm: m, n and k must fit in 32 bits");
    return NULL;
  }
  float *A, *B, *C, *bias;
  if (!get_f32(env, argv[0], "a", m * k, 0, &A) || !get_f32(env, argv[1], "b", k * n, 0, &B) ||
      !get_f32(env, argv[2], "c", m * n, 0, &C) || !get_f32(env, argv[3], "bias", n, 1, &bias)) {
    return NULL;
  }
  float beta = acc ? 1.0f : 0.0f;
  if (bias != NULL) {
    for (int64_t r = 0; r < m; r++) {
      float *row = C + r * n;
      if (acc) { for (int64_t j = 0; j < n; j++) row[j] += bias[j]; }
      else memcpy(row, bias, (size_t)n * sizeof(float));
    }
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              1.0f, A, ta ? (int)m : (int)k, B, tb ? (int)k : (int)n, beta, C, (int)n);
  if (relu) relu_in_place(C, m * n);
  return NULL;
}

/* Out of line for the same reason as relu_in_place: so GCC vectorises the select. */
__attribute__((noinline)) static void relu_grad(float *restrict dh, const float *restrict h, int64_t count) {
  for (int64_t i = 0; i < count; i++) dh[i] = h[i] > 0.0f ? dh[i] : 0.0f;
}

/* The arguments (x, y, count) of an elementwise kernel `fn`, its arrays named xn and yn in errors. */
static int get_pair(napi_env env, napi_callback_info info, const char *fn, const char *xn, const char *yn,
                    float **x, float **y, int64_t *count) {
  napi_value argv[3];
  return get_plain_args(env, info, 3, argv, fn) && get_index(env, argv[2], "count", 0, count) &&
         get_f32(env, argv[0], xn, *count, 0, x) && get_f32(env, argv[1], yn, *count, 0, y);
}

static napi_value ReluGrad(napi_env env, napi_callback_info info) {
  int64_t count;
  float *dh, *h;
  if (get_pair(env, info, "reluGrad", "dh", "h", &dh, &h, &count)) relu_grad(dh, h, count);
  return NULL;
}

static napi_value Scale(napi_env env, napi_callback_info info) {
  int64_t count;
  float *x, *s;
  if (!get_pair(env, info, "scale", "x", "s", &x, &s, &count)) return NULL;
  for (int64_t i = 0; i < count; i++) x[i] *= s[i];
  return NULL;
}

static napi_value ColSums(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t rows, cols;
  float *x, *out;
  if (!get_plain_args(env, info, 4, argv, "colSums") || !get_index(env, argv[1], "rows", 0, &rows) ||
      !get_index(env, argv[2], "cols", 0, &cols) || !get_f32(env, argv[0], "x", rows * cols, 0, &x) ||
      !get_f32(env, argv[3], "out", cols, 0, &out)) {
    return NULL;
  }
  memset(out, 0, (size_t)cols * sizeof(float));
  for (int64_t r = 0; r < rows; r++) {
    const float *row = x + r * cols;
    for (int64_t j = 0; j < cols; j++) out[j] += row[j];
  }
  return NULL;
}

/* Reads batch, fields, dim at argv[at..at+2]. */
static int get_fm_dims(napi_env env, napi_value *argv, int at, int64_t *b, int64_t *f, int64_t *d) {
  return get_index(env, argv[at], "batch", 1, b) && get_index(env, argv[at + 1], "fields", 1, f) &&
         get_index(env, argv[at + 2], "dim", 1, d);
}

static napi_value FmForward(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int64_t b, f, d;
  float *emb, *sums, *out;
  if (!get_plain_args(env, info, 6, argv, "fmForward") || !get_fm_dims(env, argv, 1, &b, &f, &d) ||
      !get_f32(env, argv[0], "emb", b * f * d, 0, &emb) || !get_f32(env, argv[4], "sums", b * d, 0, &sums) ||
      !get_f32(env, argv[5], "out", b, 0, &out)) {
    return NULL;
  }
  for (int64_t r = 0; r < b; r++) {
    const float *v = emb + r * f * d;
    float *s = sums + r * d;
    float sq = 0.0f;
    memset(s, 0, (size_t)d * sizeof(float));
    for (int64_t i = 0; i < f; i++) {
      for (int64_t j = 0; j < d; j++) { const float x = v[i * d + j]; s[j] += x; sq += x * x; }
    }
    float ss = 0.0f;
    for (int64_t j = 0; j < d; j++) ss += s[j] * s[j];
    out[r] = 0.5f * (ss - sq);
  }
  return NULL;
}

static napi_value FmBackward(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int64_t b, f, d;
  float *emb, *sums, *g, *grad;
  if (!get_plain_args(env, info, 7, argv, "fmBackward") || !get_fm_dims(env, argv, 3, &b, &f, &d) ||
      !get_f32(env, argv[0], "emb", b * f * d, 0, &emb) || !get_f32(env, argv[1], "sums", b * d, 0, &sums) ||
      !get_f32(env, argv[2], "g", b, 0, &g) || !get_f32(env, argv[6], "grad", b * f * d, 0, &grad)) {
    return NULL;
  }
  for (int64_t r = 0; r < b; r++) {
    const float *v = emb + r * f * d;
    const float *s = sums + r * d;
    float *o = grad + r * f * d;
    const float gr = g[r];
    for (int64_t i = 0; i < f; i++) {
      for (int64_t j = 0; j < d; j++) o[i * d + j] = gr * (s[j] - v[i * d + j]);
    }
  }
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", NULL, Gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transpose", NULL, Transpose, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"info", NULL, Info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mm", NULL, Mm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reluGrad", NULL, ReluGrad, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scale", NULL, Scale, NULL, NULL, NULL, napi_enumerable, NULL},
      {"colSums", NULL, ColSums, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fmForward", NULL, FmForward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fmBackward", NULL, FmBackward, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
