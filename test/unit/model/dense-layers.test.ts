/**
 * The custom-backward dense layers (explicit transposes, transposed matMuls) against tfjs
 * autodiff: same values and the same gradients w.r.t. x, W and b, for both activations, on the
 * cpu and wasm backends (the latter with the native matMul kernels when they are built).
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { denseAutodiff, denseExplicit, denseTransposed } from '../../../src/model/models';
import type { Activation, DenseFn } from '../../../src/model/models';
import { mismatches, rng, uniform, useBackend } from './helpers';

interface Case { x: Float32Array; w: Float32Array; b: Float32Array; r: Float32Array; n: number; i: number; o: number }

function randomCase(n: number, i: number, o: number, seed: number): Case {
  const rand = rng(seed);
  return { n, i, o, x: uniform(rand, n * i, 1), w: uniform(rand, i * o, 0.5), b: uniform(rand, o, 0.3), r: uniform(rand, n * o, 1) };
}

/** Value of the layer and gradients of Σ(y ⊙ r) w.r.t. x, W, b, as plain arrays. */
function run(fn: DenseFn, act: Activation, c: Case): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor2d(c.x, [c.n, c.i]);
    const w = tf.tensor2d(c.w, [c.i, c.o]);
    const b = tf.tensor1d(c.b);
    const r = tf.tensor2d(c.r, [c.n, c.o]);
    const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(fn(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, act), r));
    const { grads } = tf.valueAndGrads(f)([x, w, b]);
    return [fn(x, w, b, act), ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

describe('dense layers: explicit transposes vs autodiff', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    describe(backend, () => {
      useBackend(backend);

      for (const [label, fn] of [['explicit transposes', denseExplicit], ['transposed matMuls', denseTransposed]] as const) {
        for (const act of ['linear', 'relu'] as const) {
          it(`${label}, ${act}: values and d/dx, d/dW, d/db agree with autodiff on random inputs`, () => {
            for (const [seed, [n, i, o]] of [[1, [7, 5, 3]], [2, [32, 17, 9]], [3, [1, 4, 1]]] as const) {
              const c = randomCase(n, i, o, seed);
              const got = run(fn, act, c);
              const want = run(denseAutodiff, act, c);
              ['y', 'dx', 'dW', 'db'].forEach((name, k) => {
                expect(mismatches(got[k], want[k], 1e-5, 1e-5), `${name} seed ${seed}`).to.deep.equal([]);
              });
              // The relu case must actually mask something, or it would test nothing beyond linear.
              if (act === 'relu' && n * o >= 20) expect(Array.from(got[0]).some((v) => v === 0)).to.equal(true);
            }
          });
        }
      }

      it('leaves no tensors behind', () => {
        const c = randomCase(8, 6, 4, 9);
        for (const fn of [denseExplicit, denseTransposed]) {
          run(fn, 'relu', c);
          const before = tf.memory().numTensors;
          for (let k = 0; k < 5; k++) run(fn, 'relu', c);
          expect(tf.memory().numTensors).to.equal(before);
        }
      });
    });
  }
});
