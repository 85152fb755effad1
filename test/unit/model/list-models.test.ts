/**
 * List inputs (issue 21: a user's click history) and DIN: forward passes against the float64
 * reference, the shapes a step returns, masking of the padded history slots, the gradient that
 * reaches each present history row (against finite differences), and config validation.
 */
import { expect } from 'chai';
import { createModel } from '../../../src/model/models';
import type { BatchInputs, ModelConfig } from '../../../src/model/models';
import { centralDiff, lossOf, mismatches, randomBatch, rejection, rng, uniform, useBackend } from './helpers';
import { referenceProbs } from './reference';

/** Fields: 0 user, 1 candidate item, 2..5 a history of 4, 6..8 a sum-pooled list of 3. */
const DIN: ModelConfig = {
  kind: 'din', numFields: 9, embDim: 3, numDense: 2, hidden: [5, 4], seed: 3,
  lists: [{ offset: 2, length: 4, pooling: 'attention', target: 1 }, { offset: 6, length: 3, pooling: 'sum' }],
};
const HISTORY = { offset: 2, length: 4 };
/**
 * Seeds of the finite-difference case: a row whose ReLU units are all dead has no gradient at all,
 * and a pre-activation within eps of 0 makes the central difference straddle a kink; these give
 * every row live units and no such straddle (so both assertions have teeth without flaking).
 */
const SEED_P = 8;
const SEED_I = 13;

/** `model`'s params with every slice jittered (non-zero biases exercise their gradients too). */
function jittered(params: Float32Array, seed: number): Float32Array {
  const j = uniform(rng(seed), params.length, 0.2);
  return params.map((v, i) => v + j[i]);
}

/** Indices into emb [B × F × D] of list element k of row b. */
function elementRange(cfg: ModelConfig, b: number, field: number): [number, number] {
  const at = (b * cfg.numFields + field) * cfg.embDim;
  return [at, at + cfg.embDim];
}

describe('list inputs and DIN (cpu)', function () {
  this.timeout(30000);
  useBackend('cpu');

  for (const cfg of [
    DIN,
    { ...DIN, lists: [{ offset: 2, length: 4, pooling: 'attention' as const, target: 8 }] },
    { kind: 'deepfm' as const, numFields: 6, embDim: 2, numDense: 1, hidden: [4], lists: [{ offset: 1, length: 3, pooling: 'sum' as const }] },
    { kind: 'widedeep' as const, numFields: 5, embDim: 2, numDense: 0, hidden: [3], lists: [{ offset: 0, length: 4, pooling: 'mean' as const }] },
    { kind: 'lr' as const, numFields: 4, embDim: 1, numDense: 2, hidden: [], lists: [{ offset: 2, length: 2, pooling: 'mean' as const }] },
  ]) {
    it(`${cfg.kind} with lists ${cfg.lists!.map((l) => l.pooling).join('+')}: predict and trainStep match the float64 reference`, async () => {
      const model = createModel(cfg);
      const params = jittered(model.initialDense(), 1);
      const inputs = randomBatch(model.config, 6, 21);
      const want = referenceProbs(model, params, inputs);
      expect(mismatches(await model.predict(params, inputs), want, 1e-5, 1e-4)).to.deep.equal([]);
      expect(mismatches((await model.trainStep(params, inputs)).probs, want, 1e-5, 1e-4)).to.deep.equal([]);
    });
  }

  it('DIN: a step returns [B] probabilities and gradients of the input shapes; the layout holds the activation unit then the MLP', async () => {
    const model = createModel(DIN);
    expect(model.layout.map((s) => `${s.name}:${s.shape.join('x')}`)).to.deep.equal([
      'att.0.0.w:12x36', 'att.0.0.b:36', 'att.0.out.w:36x1', 'att.0.out.b:1',
      // 4 fields after pooling (user, item, history, sum list) × 3 + 2 numeric = 14
      'mlp.0.w:14x5', 'mlp.0.b:5', 'mlp.1.w:5x4', 'mlp.1.b:4', 'mlp.out.w:4x1', 'mlp.out.b:1',
    ]);
    expect(model.reads).to.deep.equal({ emb: true, linear: false });
    const step = await model.trainStep(model.initialDense(), randomBatch(model.config, 7, 2));
    expect(step.probs).to.have.length(7);
    expect(step.embGrad).to.have.length(7 * 9 * 3);
    expect(step.denseGrad).to.have.length(model.denseSize);
  });

  it('DIN ignores padded history slots: their values change nothing and get exactly zero gradient', async () => {
    const model = createModel(DIN);
    const params = jittered(model.initialDense(), 4);
    const inputs = randomBatch(model.config, 5, 9);
    inputs.listLengths = Float32Array.from([4, 3, 0, 1, 2, 3, 0, 3, 1, 2]); // [B × 2 lists]
    const before = await model.trainStep(params, inputs);
    const scrambled: BatchInputs = { ...inputs, emb: inputs.emb.slice() };
    for (let b = 0; b < 5; b++) {
      for (let k = inputs.listLengths[2 * b]; k < HISTORY.length; k++) {
        const [from, to] = elementRange(DIN, b, HISTORY.offset + k);
        scrambled.emb.fill(50, from, to);
        expect(Array.from(before.embGrad.subarray(from, to)), `row ${b} slot ${k}`).to.deep.equal([0, 0, 0]);
      }
    }
    const after = await model.trainStep(params, scrambled);
    expect(Array.from(after.probs)).to.deep.equal(Array.from(before.probs));
    // A row with an empty history still scores (its pooled history is the zero vector).
    expect(Number.isFinite(before.probs[2])).to.equal(true);
  });

  it('DIN: the gradient reaching each present history row and the activation unit matches finite differences', async () => {
    const model = createModel(DIN);
    const params = jittered(model.initialDense(), SEED_P);
    const inputs = randomBatch(model.config, 3, SEED_I);
    inputs.listLengths = Float32Array.from([4, 2, 2, 3, 3, 1]);
    const step = await model.trainStep(params, inputs);
    const f = (): Promise<number> => lossOf(model, params, inputs);
    const fdEmb = await centralDiff(inputs.emb, 1e-3, f);
    const fdDense = await centralDiff(params, 1e-3, f);
    expect(mismatches(step.embGrad, fdEmb, 5e-4, 2e-2)).to.deep.equal([]);
    expect(mismatches(step.denseGrad, fdDense, 5e-4, 2e-2)).to.deep.equal([]);
    // Every present history row gets a gradient well above the tolerance: it flows back to the PS rows.
    for (let b = 0; b < 3; b++) {
      for (let k = 0; k < inputs.listLengths[2 * b]; k++) {
        const [from, to] = elementRange(DIN, b, HISTORY.offset + k);
        expect(Math.max(...Array.from(step.embGrad.subarray(from, to), Math.abs)), `row ${b} element ${k}`).to.be.above(1e-3);
      }
    }
    const unit = model.layout.find((s) => s.name === 'att.0.0.w')!;
    expect(Math.max(...Array.from(step.denseGrad.subarray(unit.offset, unit.offset + unit.size), Math.abs))).to.be.above(1e-3);
  });

  it('rejects list configs and list inputs that do not fit, naming the key', async () => {
    const bad = (cfg: Partial<ModelConfig>): string => {
      try { createModel({ ...DIN, ...cfg } as ModelConfig); } catch (e) { return (e as Error).message; }
      return 'accepted';
    };
    expect(bad({ kind: 'deepfm' })).to.match(/^model\.lists\[0\]\.pooling: attention needs kind din \(kind is deepfm\)/);
    expect(bad({ lists: [{ offset: 2, length: 4, pooling: 'sum' }] })).to.equal('model.lists: din needs at least one list with pooling attention');
    expect(bad({ lists: [{ offset: 7, length: 4, pooling: 'sum' }, ...DIN.lists!] })).to.match(/^model\.lists\[0\]: fields 7\.\.10 are past numFields 9/);
    expect(bad({ lists: [{ offset: 2, length: 4, pooling: 'attention', target: 3 }] })).to.match(/^model\.lists\[0\]\.target: field 3 is an element of a list/);
    expect(bad({ lists: [{ offset: 2, length: 4, pooling: 'max' as never, target: 1 }] })).to.match(/^model\.lists\[0\]\.pooling: unknown pooling "max"/);
    const model = createModel(DIN);
    const inputs = randomBatch(model.config, 2, 1);
    expect(await rejection(model.predict(model.initialDense(), { ...inputs, listLengths: undefined })))
      .to.equal('inputs.listLengths: required: the model has 2 list input(s)');
    expect(await rejection(model.predict(model.initialDense(), { ...inputs, listLengths: Float32Array.from([5, 0, 0, 0]) })))
      .to.equal("inputs.listLengths: entry 0 is 5; expected an integer in [0, 4] (list 0's length)");
  });
});
