/**
 * The native OpenBLAS kernels for the wasm backend (src/model/native-kernels.ts): each op they
 * replace gives what the wasm backend's own kernel gives, the cases they do not cover fall
 * through, the addon refuses out-of-heap ranges, and backend selection reports a missing addon.
 *
 * Skips when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/model/models';
import {
  installNativeKernels, nativeKernelsInstalled, uninstallNativeKernels, type NativeBlas,
} from '../../../src/model/native-kernels';
import { defaultDenseLayer } from '../../../src/model/dense-layers';
import { mismatches, nativeBlasOrSkip, rng, uniform, useBackend } from './helpers';

/** Runs `f` on the wasm backend's own kernels, then puts the native ones back. */
function withWasmKernels<T>(blas: NativeBlas, f: () => T): T {
  uninstallNativeKernels();
  try {
    return f();
  } finally {
    installNativeKernels(blas, 1);
  }
}

function tensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(uniform(rng(seed), shape.reduce((a, b) => a * b, 1), 1), shape);
}

/** `f`'s values with the native kernels and with the wasm kernels, as plain arrays. */
function both(blas: NativeBlas, f: () => tf.Tensor): { native: Float32Array; wasm: Float32Array; shape: number[] } {
  const run = (): { v: Float32Array; shape: number[] } => tf.tidy(() => {
    const t = f();
    return { v: t.dataSync() as Float32Array, shape: t.shape };
  });
  const n = run();
  const w = withWasmKernels(blas, run);
  expect(n.shape).to.deep.equal(w.shape);
  return { native: n.v, wasm: w.v, shape: n.shape };
}

describe('native matMul kernels for the wasm backend', function () {
  const blas = nativeBlasOrSkip();
  if (blas === undefined) return;
  useBackend('wasm');
  before(() => { installNativeKernels(blas, 1); });

  it('is installed by backend selection and makes transposed matMuls the default dense backward', () => {
    expect(nativeKernelsInstalled()).to.equal(true);
    expect(defaultDenseLayer()).to.equal('transposed-matmul');
  });

  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`matMul(transposeA=${ta}, transposeB=${tb}) matches the wasm kernel, batched and broadcast`, () => {
      const cases: Array<[number[], number[]]> = [
        [[37, 19], [19, 23]],
        [[3, 8, 5], [3, 5, 6]],
        [[1, 8, 5], [4, 5, 6]],
        [[2, 3, 4, 5], [2, 3, 5, 2]],
        [[1, 1], [1, 1]],
      ];
      cases.forEach(([sa, sb], i) => {
        const shapeA = ta ? [...sa.slice(0, -2), sa[sa.length - 1], sa[sa.length - 2]] : sa;
        const shapeB = tb ? [...sb.slice(0, -2), sb[sb.length - 1], sb[sb.length - 2]] : sb;
        const r = both(blas, () => tf.matMul(tensor(shapeA, 10 + i), tensor(shapeB, 20 + i), ta, tb));
        expect(mismatches(r.native, r.wasm, 1e-5, 1e-5), `case ${i}`).to.deep.equal([]);
        expect(r.native.some((v) => v !== 0)).to.equal(true);
      });
    });
  }

  for (const activation of ['linear', 'relu'] as const) {
    it(`fused matMul with bias and ${activation} matches the wasm kernel`, () => {
      const r = both(blas, () => tf.fused.matMul({
        a: tensor([33, 17], 1), b: tensor([17, 9], 2), bias: tensor([9], 3), activation,
      }));
      expect(mismatches(r.native, r.wasm, 1e-5, 1e-5)).to.deep.equal([]);
      if (activation === 'relu') expect(r.native.some((v) => v === 0)).to.equal(true);
      const noBias = both(blas, () => tf.fused.matMul({ a: tensor([5, 4], 4), b: tensor([6, 4], 5), transposeB: true, activation }));
      expect(mismatches(noBias.native, noBias.wasm, 1e-5, 1e-5)).to.deep.equal([]);
    });
  }

  it('falls through to the wasm kernel for activations it does not fuse', () => {
    const r = both(blas, () => tf.fused.matMul({ a: tensor([6, 5], 6), b: tensor([5, 4], 7), bias: tensor([4], 8), activation: 'sigmoid' }));
    expect(mismatches(r.native, r.wasm, 1e-6, 1e-6)).to.deep.equal([]);
    expect(r.native.every((v) => v > 0 && v < 1)).to.equal(true);
  });

  it('transposes 2-D float32 tensors natively and falls through for other ranks', () => {
    for (const shape of [[1, 1], [1, 7], [33, 70], [130, 31]]) {
      const r = both(blas, () => tf.transpose(tensor(shape, shape[0])));
      expect(r.shape).to.deep.equal([shape[1], shape[0]]);
      expect(mismatches(r.native, r.wasm, 0, 0)).to.deep.equal([]);
    }
    const r3 = both(blas, () => tf.transpose(tensor([3, 4, 5], 9), [2, 0, 1]));
    expect(r3.shape).to.deep.equal([5, 3, 4]);
    expect(mismatches(r3.native, r3.wasm, 0, 0)).to.deep.equal([]);
  });

  it('leaves no tensors or wasm memory behind', () => {
    const step = (): void => tf.tidy(() => {
      const y = tf.fused.matMul({ a: tensor([64, 32], 1), b: tensor([32, 16], 2), bias: tensor([16], 3), activation: 'relu' });
      tf.transpose(tf.matMul(y, tensor([16, 8], 4), false, false)).dataSync();
    });
    step();
    const before = tf.memory();
    for (let k = 0; k < 10; k++) step();
    const after = tf.memory();
    expect(after.numTensors).to.equal(before.numTensors);
    expect(after.numBytes).to.equal(before.numBytes);
  });

  describe('the addon refuses bad arguments without touching memory', () => {
    const heap = new Uint8Array(64);
    const f = new Float32Array(heap.buffer);
    beforeEach(() => { f.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9]); });

    it('computes a 2×2 product in place', () => {
      blas.gemm(heap, 0, 16, 32, -1, 1, 2, 2, 2, false, false, 0, 0, false);
      expect(Array.from(f.subarray(8, 12))).to.deep.equal([19, 22, 43, 50]);
    });

    it('names an output range past the end of the heap', () => {
      expect(() => blas.gemm(heap, 0, 16, 52, -1, 1, 2, 2, 2, false, false, 0, 0, false))
        .to.throw(RangeError, /c \(byte offset 52, 4 floats\) lies outside the 64-byte heap/);
      expect(Array.from(f.subarray(8, 16))).to.deep.equal([9, 9, 9, 9, 9, 9, 9, 9]);
    });

    it('names a batch that runs past the heap, an unaligned offset and a bad dimension', () => {
      expect(() => blas.gemm(heap, 0, 16, 32, -1, 4, 2, 2, 2, false, false, 4, 0, false)).to.throw(RangeError, /c \(byte offset 32, 16 floats\)/);
      expect(() => blas.gemm(heap, 2, 16, 32, -1, 1, 2, 2, 2, false, false, 0, 0, false)).to.throw(RangeError, /a \(byte offset 2.*unaligned/);
      expect(() => blas.gemm(heap, 0, 16, 32, -1, 1, 0, 2, 2, false, false, 0, 0, false)).to.throw(RangeError, /m must be an integer >= 1/);
      expect(() => blas.gemm(heap, 0, 16, 32, 60, 1, 2, 2, 2, false, false, 0, 0, false)).to.throw(RangeError, /bias/);
      expect(() => blas.transpose(heap, 0, 52, 2, 2)).to.throw(RangeError, /y \(byte offset 52/);
      expect(() => blas.transpose(new Float32Array(4) as never, 0, 0, 1, 1)).to.throw(TypeError, /Uint8Array/);
      expect(() => (blas.transpose as (...a: unknown[]) => void)(heap, 0, 0, 1)).to.throw(TypeError, /transpose: expected 5 arguments, got 4/);
      expect(Array.from(f.subarray(8, 16))).to.deep.equal([9, 9, 9, 9, 9, 9, 9, 9]);
    });
  });

  describe('backend selection', () => {
    after(async () => { await selectBackend(undefined, 'wasm'); });

    it('reports a missing addon, runs the wasm kernels, and reinstalls when it is back', async () => {
      const missing = await selectBackend(undefined, 'wasm', { loadNative: () => ({ ok: false, reason: 'not built (test)' }) });
      expect(missing.detail).to.match(/native kernels unavailable: not built \(test\)/);
      expect(nativeKernelsInstalled()).to.equal(false);
      expect(defaultDenseLayer()).to.equal('explicit-transpose');
      expect(Array.from(tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()))).to.deep.equal([11]);

      const off = await selectBackend(undefined, 'wasm', { nativeKernels: false });
      expect(off.detail).to.match(/native kernels off/);
      expect(nativeKernelsInstalled()).to.equal(false);

      const on = await selectBackend(undefined, 'wasm');
      expect(on.detail).to.match(/native OpenBLAS \(.+, threads=1\) for BatchMatMul\/_FusedMatMul\/Transpose/);
      expect(nativeKernelsInstalled()).to.equal(true);
    });
  });
});
