/**
 * The native tower step (src/model/native-tower-step.ts, issue 18 §3): on the wasm backend with
 * the native OpenBLAS kernels, DeepFM and Wide & Deep step without a single tfjs kernel, and give
 * the tfjs graph's loss, probabilities and gradients within float32 rounding on random inputs
 * (with and without numeric features, one or two hidden layers, dropout, a batch that grows and
 * shrinks); its gradients also match central finite differences. Without the native kernels
 * (`TESSERA_NATIVE_KERNELS=0`) or with `nativeStep: false` the same models step through tfjs.
 *
 * Skips when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { createModel } from '../../../src/model/models';
import { installNativeKernels, uninstallNativeKernels } from '../../../src/model/native-kernels';
import type { BatchInputs, CtrModel, ModelConfig, StepResult } from '../../../src/model/types';
import { centralDiff, lossOf, mismatches, nativeBlasOrSkip, randomBatch, rng, uniform, useBackend } from './helpers';

const CASES: Array<{ name: string; cfg: ModelConfig }> = [
  { name: 'deepfm, numeric features, 2 hidden layers', cfg: { kind: 'deepfm', numFields: 5, embDim: 4, numDense: 3, hidden: [8, 6], seed: 3 } },
  { name: 'deepfm, no numeric features, 1 hidden layer', cfg: { kind: 'deepfm', numFields: 4, embDim: 3, numDense: 0, hidden: [7], seed: 4 } },
  { name: 'deepfm with dropout 0.3', cfg: { kind: 'deepfm', numFields: 5, embDim: 4, numDense: 2, hidden: [9, 5], dropout: 0.3, seed: 5 } },
  { name: 'widedeep, numeric features', cfg: { kind: 'widedeep', numFields: 3, embDim: 4, numDense: 4, hidden: [6, 6], seed: 6 } },
  { name: 'widedeep, no numeric features', cfg: { kind: 'widedeep', numFields: 3, embDim: 2, numDense: 0, hidden: [5], seed: 7 } },
  { name: 'widedeep, numeric features only', cfg: { kind: 'widedeep', numFields: 0, embDim: 4, numDense: 5, hidden: [6], seed: 8 } },
];

/** Parameters away from init, so biases and wide weights are non-zero. */
function jittered(model: CtrModel, seed: number): Float32Array {
  const params = model.initialDense();
  const jitter = uniform(rng(seed), params.length, 0.1);
  return params.map((v, i) => v + jitter[i]);
}

/** tfjs kernels run by `f` (0 for the native step). */
async function kernelsOf(f: () => Promise<unknown>): Promise<number> {
  return (await tf.profile(async () => { await f(); return []; })).kernels.length;
}

function expectClose(native: StepResult, tfjs: StepResult): void {
  expect(native.loss).to.be.closeTo(tfjs.loss, 1e-6);
  for (const key of ['probs', 'embGrad', 'linearGrad', 'denseGrad'] as const) {
    expect(mismatches(native[key], tfjs[key], 1e-6, 1e-4), key).to.deep.equal([]);
    if (tfjs[key].length > 0) expect(native[key].some((v) => v !== 0), `${key} is not all zero`).to.equal(true);
  }
}

/** Steps `batches` on a native model and on a tfjs one (same config, so the same dropout keys). */
async function compare(cfg: ModelConfig, batches: BatchInputs[]): Promise<void> {
  const native = createModel(cfg);
  const tfjs = createModel(cfg, { nativeStep: false });
  const params = jittered(native, 9);
  try {
    for (const inputs of batches) {
      let n: StepResult | undefined;
      let t: StepResult | undefined;
      expect(await kernelsOf(async () => { n = await native.trainStep(params, inputs); }), 'tfjs kernels of a native step').to.equal(0);
      expect(await kernelsOf(async () => { t = await tfjs.trainStep(params, inputs); })).to.be.above(10);
      expectClose(n as StepResult, t as StepResult);
      const probs = await native.predict(params, inputs);
      expect(mismatches(probs, await tfjs.predict(params, inputs), 1e-6, 1e-4), 'predict').to.deep.equal([]);
    }
  } finally {
    native.dispose();
    tfjs.dispose();
  }
}

describe('native tower step (issue 18 §3)', function () {
  this.timeout(60000);
  const blas = nativeBlasOrSkip();
  if (blas === undefined) return;
  useBackend('wasm');
  before(() => { installNativeKernels(blas, 1); });

  for (const { name, cfg } of CASES) {
    it(`${name}: equals the tfjs graph over batches of 33, 64 and 17 rows`, async () => {
      await compare(cfg, [randomBatch(cfg, 33, 1), randomBatch(cfg, 64, 2), randomBatch(cfg, 17, 3)]);
    });
  }

  for (const kind of ['deepfm', 'widedeep'] as const) {
    it(`${kind}: gradients match central finite differences`, async () => {
      const model = createModel({ kind, numFields: 3, embDim: 2, numDense: 2, hidden: [4, 3], seed: 7 });
      const inputs = randomBatch(model.config, 3, 11);
      const params = jittered(model, 5);
      const step = await model.trainStep(params, inputs);
      const f = (): Promise<number> => lossOf(model, params, inputs);
      // eps and tolerances as in gradients.test.ts (float32 loss noise stays under the atol).
      const fd = { emb: await centralDiff(inputs.emb, 1e-3, f), linear: await centralDiff(inputs.linear, 1e-3, f), dense: await centralDiff(params, 1e-3, f) };
      expect(step.loss).to.be.closeTo(await f(), 1e-5);
      expect(mismatches(step.embGrad, fd.emb, 5e-4, 2e-2), 'embGrad').to.deep.equal([]);
      expect(mismatches(step.linearGrad, fd.linear, 5e-4, 2e-2), 'linearGrad').to.deep.equal([]);
      expect(mismatches(step.denseGrad, fd.dense, 5e-4, 2e-2), 'denseGrad').to.deep.equal([]);
      model.dispose();
    });
  }

  it('steps through tfjs without the native kernels (TESSERA_NATIVE_KERNELS=0), with the same numbers', async () => {
    const cfg = CASES[0].cfg;
    const inputs = randomBatch(cfg, 20, 8);
    const model = createModel(cfg);
    const params = jittered(model, 2);
    const native = await model.trainStep(params, inputs);
    uninstallNativeKernels();
    try {
      let fallback: StepResult | undefined;
      expect(await kernelsOf(async () => { fallback = await model.trainStep(params, inputs); })).to.be.above(10);
      expect(mismatches(native.denseGrad, (fallback as StepResult).denseGrad, 1e-6, 1e-4)).to.deep.equal([]);
    } finally {
      installNativeKernels(blas, 1);
      model.dispose();
    }
  });

  it('models the native step does not cover (fm, dcn, lists) keep stepping through tfjs', async () => {
    const cfg: ModelConfig = { kind: 'dcn', numFields: 3, embDim: 2, numDense: 2, hidden: [4], crossLayers: 1, seed: 1 };
    const model = createModel(cfg);
    expect(await kernelsOf(() => model.trainStep(model.initialDense(), randomBatch(cfg, 8, 1)))).to.be.above(10);
    model.dispose();
  });

  it('the addon names a short or mistyped array instead of touching memory', () => {
    const a = new Float32Array(6);
    expect(() => blas.mm(a, a, new Float32Array(3), null, 2, 2, 3, false, false, false, false)).to.throw(RangeError, /c holds 3 floats, needs 4/);
    expect(() => blas.mm(a, a, a, new Float32Array(1), 2, 2, 3, false, false, false, false)).to.throw(RangeError, /bias/);
    expect(() => blas.reluGrad(a, new Float64Array(6) as unknown as Float32Array, 6)).to.throw(TypeError, /h must be a Float32Array/);
    expect(() => blas.fmForward(a, 2, 2, 2, a, a)).to.throw(RangeError, /emb holds 6 floats, needs 8/);
  });
});
