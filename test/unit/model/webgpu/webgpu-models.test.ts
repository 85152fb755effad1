/**
 * The five models on the webgpu backend (Dawn; a software Vulkan here and in CI) against the cpu
 * backend, at tiny shapes: trainStep and predict within 1e-5 on both step paths (fused WGSL for
 * DeepFM and Wide & Deep, tfjs's kernels for every model), no leaked tensors, the dense weights
 * resident on the GPU, overlapping steps, a growing batch, issue #20's dispatch-count target, and
 * issue #21's dropout with the same masks on the fused step as on the cpu backend.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { createModel, selectBackend } from '../../../../src/model/models';
import type { BatchInputs, CtrModel, ModelConfig, ModelOptions, StepResult } from '../../../../src/model/models';
import { FusedTowerModel } from '../../../../src/model/webgpu/fused-tower-model';
import { countDispatches } from '../../../../src/model/webgpu/dispatch-counter';
import { useWebgpu } from '../../../helpers/webgpu';
import { mismatches, randomBatch, rejection, rng, uniform } from '../helpers';

const KINDS: Array<ModelConfig['kind']> = ['lr', 'fm', 'deepfm', 'widedeep', 'dcn'];
const TINY = { numFields: 3, embDim: 2, numDense: 2, hidden: [4, 3], crossLayers: 2, seed: 3 };
const ATOL = 1e-5;
const RTOL = 1e-5;
const KEYS = ['probs', 'embGrad', 'linearGrad', 'denseGrad'] as const;

/** Initial weights with every bias non-zero, so that each slice's gradient is exercised. */
function jittered(model: CtrModel, seed: number): Float32Array {
  const params = model.initialDense();
  const jitter = uniform(rng(seed), params.length, 0.1);
  return params.map((v, i) => v + jitter[i]);
}

async function onCpu(cfg: ModelConfig, params: Float32Array, inputs: BatchInputs): Promise<{ step: StepResult; probs: Float32Array }> {
  await selectBackend(undefined, 'cpu');
  const model = createModel(cfg);
  const out = { step: await model.trainStep(params, inputs), probs: await model.predict(params, inputs) };
  await selectBackend(undefined, 'webgpu', { allowFallbackAdapter: true });
  return out;
}

function expectSame(got: StepResult, want: StepResult, label: string): void {
  expect(got.loss, `${label} loss`).to.be.closeTo(want.loss, ATOL);
  for (const k of KEYS) expect(mismatches(got[k], want[k], ATOL, RTOL), `${label} ${k}`).to.deep.equal([]);
}

describe('models on the webgpu backend (issue #20)', function () {
  this.timeout(180_000);
  useWebgpu();

  for (const kind of KINDS) {
    it(`${kind}: trainStep and predict match the cpu backend within 1e-5 on every step path`, async () => {
      const cfg: ModelConfig = { kind, ...TINY };
      const params = jittered(createModel(cfg), 1);
      const inputs = randomBatch({ kind, ...TINY }, 9, 2);
      const want = await onCpu(cfg, params, inputs);
      const paths: ModelOptions[] = kind === 'deepfm' || kind === 'widedeep' ? [{}, { webgpuStep: 'tfjs' }] : [{}];
      for (const opts of paths) {
        const model = createModel(cfg, opts);
        const label = model instanceof FusedTowerModel ? 'fused' : 'tfjs';
        expect(label, 'DeepFM and Wide & Deep step fused by default').to.equal((kind === 'deepfm' || kind === 'widedeep') && opts.webgpuStep === undefined ? 'fused' : 'tfjs');
        expectSame(await model.trainStep(params, inputs), want.step, label);
        expect(mismatches(await model.predict(params, inputs), want.probs, ATOL, RTOL), `${label} predict`).to.deep.equal([]);
        model.dispose();
      }
    });
  }

  // Issue #21: dropout works on the fused step too, with the masks of the tfjs step.
  it('dropout: the fused step drops the units the cpu step drops, step after step, within 1e-5', async () => {
    for (const kind of ['deepfm', 'widedeep'] as const) {
      const cfg: ModelConfig = { kind, ...TINY, dropout: 0.4 };
      const params = jittered(createModel(cfg), 12);
      const inputs = randomBatch(cfg, 9, 13);
      await selectBackend(undefined, 'cpu');
      const ref = createModel(cfg);
      const want = [await ref.trainStep(params, inputs), await ref.trainStep(params, inputs)];
      const wantProbs = await ref.predict(params, inputs);
      await selectBackend(undefined, 'webgpu', { allowFallbackAdapter: true });
      const model = createModel(cfg);
      expect(model, kind).to.be.instanceOf(FusedTowerModel);
      expectSame(await model.trainStep(params, inputs), want[0], `${kind} step 0`);
      expectSame(await model.trainStep(params, inputs), want[1], `${kind} step 1`);
      expect(want[0].loss, 'the two steps drew different masks').to.not.equal(want[1].loss);
      expect(mismatches(await model.predict(params, inputs), wantProbs, ATOL, RTOL), `${kind} predict drops nothing`).to.deep.equal([]);
      model.dispose();
    }
  });

  it('no tensor leaks on either path: numTensors is unchanged after steps of every model', async () => {
    const cases: Array<[ModelConfig['kind'], ModelOptions]> = [...KINDS.map((k): [ModelConfig['kind'], ModelOptions] => [k, {}]), ['deepfm', { webgpuStep: 'tfjs' }]];
    for (const [kind, opts] of cases) {
      const model = createModel({ kind, ...TINY }, opts);
      const params = model.initialDense();
      const inputs = randomBatch(model.config, 9, 4);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) { await model.trainStep(params, inputs); await model.predict(params, inputs); }
      expect(tf.memory().numTensors, `${kind} ${opts.webgpuStep ?? 'default'}`).to.equal(before);
      model.dispose();
    }
  });

  it('keeps the dense weights on the GPU until the vector changes', async () => {
    const model = createModel({ kind: 'deepfm', ...TINY }) as FusedTowerModel;
    const params = jittered(model, 5);
    const inputs = randomBatch(model.config, 9, 6);
    const first = await model.trainStep(params, inputs);
    await model.trainStep(params, inputs);
    await model.predict(params, inputs);
    expect(model.stats.paramUploads).to.equal(1);
    const moved = params.slice();
    moved[moved.length - 1] += 0.5; // the global bias
    const second = await model.trainStep(moved, inputs);
    expect(model.stats.paramUploads).to.equal(2);
    expect(second.loss).to.not.equal(first.loss);
    expectSame(second, (await onCpu(model.config, moved, inputs)).step, 'after the change');
    model.dispose();
  });

  it('overlapping steps (the next one submitted before the first is read back) give the sequential results', async () => {
    const model = createModel({ kind: 'deepfm', ...TINY });
    const params = jittered(model, 7);
    const a = randomBatch(model.config, 9, 8);
    const b = randomBatch(model.config, 9, 9);
    const [ra, rb] = await Promise.all([model.trainStep(params, a), model.trainStep(params, b)]);
    expectSame(ra, await model.trainStep(params, a), 'first');
    expectSame(rb, await model.trainStep(params, b), 'second');
    model.dispose();
  });

  it('a batch larger than the buffers rebuilds them at a larger capacity and still matches cpu', async () => {
    const model = createModel({ kind: 'widedeep', ...TINY });
    const params = jittered(model, 10);
    for (const batch of [5, 70]) {
      const inputs = randomBatch(model.config, batch, batch);
      expectSame(await model.trainStep(params, inputs), (await onCpu(model.config, params, inputs)).step, `batch ${batch}`);
    }
    model.dispose();
  });

  it('rejects bad input naming the argument, and any call after dispose', async () => {
    const model = createModel({ kind: 'deepfm', ...TINY });
    const params = model.initialDense();
    const inputs = randomBatch(model.config, 3, 1);
    expect(await rejection(model.trainStep(params, { ...inputs, emb: inputs.emb.subarray(1) }))).to.match(/^inputs\.emb: expected 3 × 3 × 2 = 18 floats, got 17/);
    expect(await rejection(model.trainStep(params, { ...inputs, labels: undefined }))).to.match(/^inputs\.labels: required/);
    model.dispose();
    expect(await rejection(model.predict(params, inputs))).to.match(/used after dispose/);
  });

  // Issue #20: the count of GPU programs per DeepFM step is what CI can hold, whatever the GPU.
  it('a fused DeepFM trainStep dispatches at most a quarter of the programs of the tfjs step (issue #20)', async () => {
    const counts: Record<string, number> = {};
    for (const [name, opts] of [['tfjs', { webgpuStep: 'tfjs' }], ['fused', {}]] as const) {
      const model = createModel({ kind: 'deepfm', ...TINY }, opts);
      const params = model.initialDense();
      const inputs = randomBatch(model.config, 9, 11);
      await model.trainStep(params, inputs); // warm-up
      counts[name] = (await countDispatches(() => model.trainStep(params, inputs))).dispatches;
      model.dispose();
    }
    console.log(`      DeepFM trainStep dispatches: tfjs ${counts.tfjs}, fused ${counts.fused}`);
    expect(counts.tfjs, 'the baseline counts real dispatches').to.be.above(40);
    expect(counts.fused).to.be.at.least(1);
    expect(4 * counts.fused).to.be.at.most(counts.tfjs);
  });
});
