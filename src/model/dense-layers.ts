/**
 * Fully connected layers `y = act(x·W + b)` for the models.
 *
 * Why a hand-written backward: on the wasm backend's own kernels a matMul with
 * `transposeA`/`transposeB` is about ten times slower than a plain one, and tfjs's own gradient of
 * matMul uses exactly those (measured on a 429→400→400→1 MLP at batch 1024: 1,300 samples/s with
 * autodiff against 6,900 with plain matMuls).
 * `denseExplicit` therefore materialises `tf.transpose` and runs plain matMuls:
 *
 *   dz = dy ⊙ act'(y),  dx = dz·transpose(W),  dW = transpose(x)·dz,  db = 1ᵀ·dz
 *
 * With the native OpenBLAS kernels installed (native-kernels.ts) a transposed matMul costs the
 * same as a plain one, so `denseTransposed` passes the transpose flags instead and skips the
 * copies. `denseAutodiff` is the same forward with tfjs's gradient; tests check the three agree
 * and the benchmark compares their speed.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeKernelsInstalled } from './native-kernels';
import type { DenseLayerImpl } from './types';

/** Activation applied after the affine map. */
export type Activation = 'linear' | 'relu';

/**
 * A dense layer: `x` [B, in], `w` [in, out], `b` [out] → [B, out].
 *
 * ```ts
 * const h = denseExplicit(x, w1, b1, 'relu');
 * ```
 */
export type DenseFn = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation?: Activation) => tf.Tensor2D;

type CustomDense = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

/**
 * `Σ_rows m` as `1ᵀ·m`: on the wasm backend a column sum of a [1024, 400] matrix takes 3.7 ms
 * (it is reduced along the slow axis), the matMul 0.08 ms.
 */
function columnSums(m: tf.Tensor2D): tf.Tensor1D {
  return tf.reshape(tf.matMul(tf.ones([1, m.shape[0]]), m), [m.shape[1]]);
}

/**
 * Builds the customGrad op for one activation (customGrad takes tensors only); `flags` computes
 * the transposed products with matMul's transpose flags rather than materialised transposes.
 */
function makeCustomDense(activation: Activation, flags: boolean): CustomDense {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, w, b] = args as tf.Tensor2D[];
    const save = args[3] as tf.GradSaveFunc;
    const y = tf.fused.matMul({ a: x, b: w, bias: b, activation }) as tf.Tensor2D;
    save([x, w, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sx, sw, sy] = saved as tf.Tensor2D[];
        // relu'(z) is 1 exactly where relu(z) > 0, so the saved output stands in for z.
        const dz: tf.Tensor2D = activation === 'relu' ? tf.mul(dy, tf.step(sy)) : dy;
        return flags
          ? [tf.matMul(dz, sw, false, true), tf.matMul(sx, dz, true, false), columnSums(dz)]
          : [tf.matMul(dz, tf.transpose(sw)), tf.matMul(tf.transpose(sx), dz), columnSums(dz)];
      },
    };
  }) as CustomDense;
}

const CUSTOM_DENSE: Readonly<Record<Activation, CustomDense>> = Object.freeze({
  linear: makeCustomDense('linear', false),
  relu: makeCustomDense('relu', false),
});

const CUSTOM_DENSE_FLAGS: Readonly<Record<Activation, CustomDense>> = Object.freeze({
  linear: makeCustomDense('linear', true),
  relu: makeCustomDense('relu', true),
});

/** Dense layer whose backward uses materialised transposes and plain matMuls (fast on wasm kernels). */
export function denseExplicit(
  x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation: Activation = 'linear',
): tf.Tensor2D {
  return CUSTOM_DENSE[activation](x, w, b);
}

/** Dense layer whose backward uses transposed matMuls (fast with the native kernels). */
export function denseTransposed(
  x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation: Activation = 'linear',
): tf.Tensor2D {
  return CUSTOM_DENSE_FLAGS[activation](x, w, b);
}

/** Dense layer with tfjs's own gradient (transposed matMuls); the reference and the slow path. */
export function denseAutodiff(
  x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation: Activation = 'linear',
): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: w, bias: b, activation }) as tf.Tensor2D;
}

/**
 * The fastest implementation for the kernels registered now: transposed matMuls where they cost no
 * more than plain ones (the native OpenBLAS kernels, and tfjs-backend-webgpu's matMul, which reads
 * either layout), explicit transposes on the wasm backend's own kernels.
 */
export function defaultDenseLayer(): DenseLayerImpl {
  return nativeKernelsInstalled() || tf.engine().backendName === 'webgpu' ? 'transposed-matmul' : 'explicit-transpose';
}

/** The dense layer for `impl` (default: `defaultDenseLayer()` when the model is built). */
export function denseLayerFn(impl: DenseLayerImpl = defaultDenseLayer()): DenseFn {
  if (impl === 'autodiff') return denseAutodiff;
  return impl === 'transposed-matmul' ? denseTransposed : denseExplicit;
}
