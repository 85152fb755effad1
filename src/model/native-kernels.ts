/**
 * Native matrix kernels for tfjs's wasm backend (ADR 0014).
 *
 * The wasm backend's matMul runs at 21–29 GFLOP/s on one core here (XNNPACK on 128-bit wasm SIMD);
 * OpenBLAS's sgemm on the same core runs at about 100. `native/tessera_blas.c` is a small N-API
 * addon over OpenBLAS that works directly on the wasm heap, so installing it swaps the
 * `BatchMatMul`, `_FusedMatMul` and `Transpose` kernels of the registered `wasm` backend for
 * native ones without copying a tensor. Every other kernel, and every case these do not cover
 * (non-float32 inputs, broadcast batch shapes, fused activations other than linear/relu,
 * transposes of rank > 2), falls through to the original wasm kernel.
 *
 * ```ts
 * const loaded = loadNativeBlas();
 * if (loaded.ok) installNativeKernels(loaded.blas, 1);
 * ```
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadAddon } from '../common/native-addon';

/** The addon's exports (see the header of native/tessera_blas.c). */
export interface NativeBlas {
  gemm(
    heap: Uint8Array, a: number, b: number, c: number, bias: number, batch: number,
    m: number, n: number, k: number, transA: boolean, transB: boolean,
    strideA: number, strideB: number, relu: boolean,
  ): void;
  transpose(heap: Uint8Array, x: number, y: number, rows: number, cols: number): void;
  setThreads(threads: number): void;
  info(): { corename: string; threads: number };
  /** c = act(op(a)·op(b) + bias + (accumulate ? c : 0)) on plain arrays (the native tower step). */
  mm(
    a: Float32Array, b: Float32Array, c: Float32Array, bias: Float32Array | null,
    m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean, relu: boolean,
  ): void;
  /** dh[i] = h[i] > 0 ? dh[i] : 0 for i < count. */
  reluGrad(dh: Float32Array, h: Float32Array, count: number): void;
  /** x[i] *= s[i] for i < count. */
  scale(x: Float32Array, s: Float32Array, count: number): void;
  /** out[j] = Σ_r x[r, j] of a row-major [rows, cols]. */
  colSums(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /** FM: sums[b, d] = Σ_f v[b, f, d], out[b] = 0.5 Σ_d (sums² − Σ_f v²). */
  fmForward(emb: Float32Array, batch: number, fields: number, dim: number, sums: Float32Array, out: Float32Array): void;
  /** grad[b, f, d] = g[b] · (sums[b, d] − v[b, f, d]). */
  fmBackward(emb: Float32Array, sums: Float32Array, g: Float32Array, batch: number, fields: number, dim: number, grad: Float32Array): void;
}

/** Where `scripts/build-native.sh` writes the addon, relative to the package root. */
export const NATIVE_BLAS_PATH = path.join('native', 'build', 'tessera_blas.node');

/** Loads the addon, or says why it cannot (not built, or built against another OpenBLAS). */
export function loadNativeBlas(file: string = NATIVE_BLAS_PATH): { ok: true; blas: NativeBlas } | { ok: false; reason: string } {
  const loaded = loadAddon<NativeBlas>(file, 'gcc and libopenblas-dev');
  return loaded.ok ? { ok: true, blas: loaded.addon } : loaded;
}

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendView {
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  wasm: { HEAPU8: Uint8Array };
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo | undefined>; backend: unknown; attrs?: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

const KERNELS = ['BatchMatMul', '_FusedMatMul', 'Transpose'] as const;
const BACKEND = 'wasm';
/** The wasm kernels replaced by the installed native ones, for fall-through and uninstall. */
const originals = new Map<string, tf.KernelConfig>();
/** The addon behind the installed kernels. */
let installed: NativeBlas | undefined;

function offsetOf(backend: WasmBackendView, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface MatMulPlan {
  outShape: number[];
  batch: number;
  m: number; n: number; k: number;
  strideA: number; strideB: number;
}

/**
 * Shapes of `op(a)·op(b)` for batched row-major matrices, or null where the native kernel does not
 * apply (mismatched or broadcast-within batch dims, empty matrices, non-float32).
 */
function planMatMul(a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean): MatMulPlan | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const ka = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (ka !== kb || m === 0 || n === 0 || ka === 0) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  let outer: number[];
  try {
    outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return null;
  }
  const batch = Math.max(batchA, batchB);
  if (sizeOf(outer) !== batch) return null;
  return {
    outShape: [...outer, m, n], batch, m, n, k: ka,
    strideA: batchA === 1 ? 0 : m * ka, strideB: batchB === 1 ? 0 : ka * n,
  };
}

function makeMatMul(blas: NativeBlas, fused: boolean): KernelFn {
  const name = fused ? '_FusedMatMul' : 'BatchMatMul';
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo>;
    const transA = args.attrs?.transposeA === true;
    const transB = args.attrs?.transposeB === true;
    const activation = (args.attrs?.activation as string | undefined) ?? 'linear';
    const plan = planMatMul(a, b, transA, transB);
    const fusedOk = !fused || (
      (activation === 'linear' || activation === 'relu') && preluActivationWeights == null
      && (bias == null || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === plan?.n))
    );
    if (plan === null || !fusedOk) return originals.get(name)!.kernelFunc(args as never);
    const backend = args.backend as WasmBackendView;
    const out = backend.makeOutput(plan.outShape, 'float32');
    // makeOutput may grow the wasm memory, which replaces HEAPU8: read it afterwards.
    blas.gemm(
      backend.wasm.HEAPU8, offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out),
      fused && bias != null ? offsetOf(backend, bias) : -1,
      plan.batch, plan.m, plan.n, plan.k, transA, transB, plan.strideA, plan.strideB,
      fused && activation === 'relu',
    );
    return out;
  };
}

function makeTranspose(blas: NativeBlas): KernelFn {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = args.attrs?.perm as number[] | undefined;
    if (x.dtype !== 'float32' || x.shape.length !== 2 || perm?.[0] !== 1 || perm?.[1] !== 0 || sizeOf(x.shape) === 0) {
      return originals.get('Transpose')!.kernelFunc(args as never);
    }
    const backend = args.backend as WasmBackendView;
    const [rows, cols] = x.shape;
    const out = backend.makeOutput([cols, rows], 'float32');
    blas.transpose(backend.wasm.HEAPU8, offsetOf(backend, x), offsetOf(backend, out), rows, cols);
    return out;
  };
}

/** True while the native kernels are registered for the wasm backend. */
export function nativeKernelsInstalled(): boolean {
  return originals.size > 0;
}

/**
 * The addon behind the installed kernels while they are installed and the wasm backend computes
 * (so `TESSERA_NATIVE_KERNELS=0`, or another backend, leaves models on tfjs); else undefined.
 */
export function installedNativeBlas(): NativeBlas | undefined {
  return nativeKernelsInstalled() && tf.getBackend() === BACKEND ? installed : undefined;
}

/**
 * Replaces the wasm backend's matMul and 2-D transpose kernels with the native ones and sets
 * OpenBLAS's thread count. Idempotent. Returns a one-line description for the backend log.
 *
 * @throws Error when the wasm kernels are not registered (the wasm package is not loaded).
 */
export function installNativeKernels(blas: NativeBlas, threads: number): string {
  blas.setThreads(threads);
  installed = blas;
  if (!nativeKernelsInstalled()) {
    const impls: Record<(typeof KERNELS)[number], KernelFn> = {
      BatchMatMul: makeMatMul(blas, false),
      _FusedMatMul: makeMatMul(blas, true),
      Transpose: makeTranspose(blas),
    };
    for (const name of KERNELS) {
      const original = tf.getKernel(name, BACKEND);
      if (original === undefined) throw new Error(`native kernels: the ${BACKEND} backend has no ${name} kernel to replace`);
      originals.set(name, original);
    }
    for (const name of KERNELS) {
      const original = originals.get(name)!;
      tf.unregisterKernel(name, BACKEND);
      tf.registerKernel({ ...original, kernelFunc: impls[name] as tf.KernelFunc });
    }
  }
  const { corename, threads: n } = blas.info();
  return `native OpenBLAS (${corename}, threads=${n}) for ${KERNELS.join('/')}`;
}

/** Puts the original wasm kernels back (tests compare the two). */
export function uninstallNativeKernels(): void {
  for (const [name, original] of originals) {
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel(original);
  }
  originals.clear();
  installed = undefined;
}
