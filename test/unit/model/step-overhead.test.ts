/**
 * The tfjs op-overhead cuts of issue 18 §3 leave a training step's numbers as they were: the
 * copy-free wasm Identity (src/model/wasm-shared-identity.ts), Σ with a matMul gradient
 * (`sumAlong`, blocks.ts) and gradients read straight from the wasm heap into the step's result
 * (readback.ts). A DeepFM step on the wasm backend is compared with the same step with the
 * copying Identity and with tfjs's own Sum gradient, and it must leave no tensor or wasm memory
 * behind.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { sumAlong } from '../../../src/model/blocks';
import { createModel } from '../../../src/model/models';
import type { ModelConfig, StepResult } from '../../../src/model/types';
import { installSharedIdentity, sharedIdentityInstalled, uninstallSharedIdentity } from '../../../src/model/wasm-shared-identity';
import { randomInputs } from '../../../bench/bench-inputs';
import { mismatches, rng, uniform, useBackend } from './helpers';

const CFG: ModelConfig = { kind: 'deepfm', numFields: 5, embDim: 4, numDense: 3, hidden: [8, 8], seed: 3 };

/** A step of the tfjs graph (the native tower step, which runs no tfjs op, is tested on its own). */
async function step(): Promise<StepResult> {
  const model = createModel(CFG, { nativeStep: false });
  try {
    return await model.trainStep(model.initialDense(), randomInputs(CFG, 32, 7));
  } finally {
    model.dispose();
  }
}

describe('training-step overhead cuts keep the numbers (issue 18, wasm backend)', () => {
  useBackend('wasm');

  it('backend selection installs the shared Identity; a step gives the same numbers with the copying one', async () => {
    expect(sharedIdentityInstalled()).to.equal(true);
    const shared = await step();
    uninstallSharedIdentity();
    let copying: StepResult;
    try {
      copying = await step();
    } finally {
      installSharedIdentity();
    }
    expect(shared.loss).to.equal(copying.loss);
    for (const key of ['embGrad', 'linearGrad', 'denseGrad', 'probs'] as const) {
      expect(Array.from(shared[key]), key).to.deep.equal(Array.from(copying[key]));
      expect(shared[key].some((v) => v !== 0), key).to.equal(true);
    }
  });

  it('sumAlong gives tf.sum and its gradient, on every axis', () => {
    const x = tf.tensor3d(uniform(rng(5), 4 * 3 * 5, 1), [4, 3, 5]);
    for (const axis of [0, 1, 2]) {
      const w = tf.tensor(uniform(rng(axis + 9), x.size / x.shape[axis], 1), x.shape.filter((_, i) => i !== axis));
      const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(sumAlong(t, axis), w)))(x);
      const theirs = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(t, axis), w)))(x);
      expect(mismatches(ours.dataSync(), theirs.dataSync(), 0, 0), `axis ${axis}`).to.deep.equal([]);
      expect(mismatches(sumAlong(x, axis).dataSync(), tf.sum(x, axis).dataSync(), 0, 0)).to.deep.equal([]);
      tf.dispose([w, ours, theirs]);
    }
    x.dispose();
  });

  it('leaves no tensors or wasm memory behind', async () => {
    await step();
    const before = tf.memory();
    const ids = tf.backend().numDataIds();
    for (let k = 0; k < 5; k++) await step();
    const after = tf.memory();
    expect(after.numTensors).to.equal(before.numTensors);
    expect(after.numBytes).to.equal(before.numBytes);
    expect(tf.backend().numDataIds(), 'wasm buffers').to.equal(ids);
  });
});
