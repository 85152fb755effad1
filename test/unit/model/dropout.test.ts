/**
 * Issue 21, item 3: dropout on the MLP tower's hidden layers, training steps only. The masks are
 * a hash of (seed, step, layer, unit), so a step is checked against the float64 reference forward
 * with the same masks, and its gradients against finite differences of that masked loss.
 */
import { expect } from 'chai';
import { dropoutKey, dropoutMask, dropoutScale } from '../../../src/model/dropout';
import { createModel } from '../../../src/model/models';
import type { BatchInputs, CtrModel, ModelConfig } from '../../../src/model/models';
import { mismatches, randomBatch, rng, uniform, useBackend } from './helpers';
import { referenceLogit } from './reference';

const TINY = { numFields: 3, embDim: 2, numDense: 2, hidden: [6, 5], crossLayers: 2, seed: 4 };
const RATE = 0.4;
const EPS = 1e-3;

/** Mean log loss of the float64 reference with training step `step`'s masks. */
function maskedLoss(model: CtrModel, params: Float32Array, inputs: BatchInputs, step: number): number {
  const key = dropoutKey(model.config.seed ?? 0, step);
  const masks = model.config.hidden.map((w, i) => dropoutMask(key, i, inputs.batch, w, RATE));
  let sum = 0;
  for (let b = 0; b < inputs.batch; b++) {
    const z = referenceLogit(model, params, inputs, b, (layer, unit) => masks[layer][b * model.config.hidden[layer] + unit]);
    const y = (inputs.labels as Float32Array)[b];
    sum += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return sum / inputs.batch;
}

function jittered(model: CtrModel): Float32Array {
  const p = model.initialDense();
  const j = uniform(rng(9), p.length, 0.1);
  return p.map((v, i) => v + j[i]);
}

describe('dropout (issue 21)', function () {
  this.timeout(30_000);
  useBackend('cpu');

  it('masks keep about 1 − rate of the units, scaled by 1 / (1 − rate), the same for the same key', () => {
    const m = dropoutMask(dropoutKey(1, 0), 0, 500, 400, 0.3);
    const kept = m.filter((v) => v !== 0);
    expect(kept.length / m.length).to.be.closeTo(0.7, 0.01);
    expect(kept.every((v) => v === dropoutScale(0.3))).to.equal(true);
    expect(Array.from(dropoutMask(dropoutKey(1, 0), 0, 500, 400, 0.3))).to.deep.equal(Array.from(m));
    for (const other of [dropoutMask(dropoutKey(1, 1), 0, 500, 400, 0.3), dropoutMask(dropoutKey(1, 0), 1, 500, 400, 0.3), dropoutMask(dropoutKey(2, 0), 0, 500, 400, 0.3)]) {
      const same = other.reduce((n, v, i) => n + (v === m[i] ? 1 : 0), 0);
      expect(same / m.length, 'another step, layer or seed draws other units').to.be.below(0.65);
    }
    expect(dropoutMask(dropoutKey(1, 0), 0, 10, 10, 0).every((v) => v === 1)).to.equal(true);
  });

  for (const kind of ['deepfm', 'widedeep', 'dcn'] as const) {
    it(`${kind}: each trainStep's loss and gradients are those of the reference with that step's masks`, async () => {
      const model = createModel({ kind, ...TINY, dropout: RATE });
      const params = jittered(model);
      const inputs = randomBatch(model.config, 4, 3);
      for (const step of [0, 1]) {
        const r = await model.trainStep(params, inputs);
        expect(r.loss, `step ${step} loss`).to.be.closeTo(maskedLoss(model, params, inputs, step), 1e-5);
        const fd = Float64Array.from(params, (_, i) => {
          const plus = params.slice(); plus[i] += EPS;
          const minus = params.slice(); minus[i] -= EPS;
          return (maskedLoss(model, plus, inputs, step) - maskedLoss(model, minus, inputs, step)) / (2 * EPS);
        });
        expect(mismatches(r.denseGrad, fd, 5e-4, 2e-2), `step ${step} denseGrad`).to.deep.equal([]);
      }
      const steps = [await model.trainStep(params, inputs), await model.trainStep(params, inputs)];
      expect(steps[0].loss, 'every step draws new masks').to.not.equal(steps[1].loss);
    });
  }

  it('predict drops nothing, and models without hidden layers ignore the rate', async () => {
    const cfg: ModelConfig = { kind: 'deepfm', ...TINY };
    const plain = createModel(cfg);
    const dropped = createModel({ ...cfg, dropout: RATE });
    const params = jittered(plain);
    const inputs = randomBatch(plain.config, 5, 8);
    expect(Array.from(await dropped.predict(params, inputs))).to.deep.equal(Array.from(await plain.predict(params, inputs)));
    expect((await dropped.trainStep(params, inputs)).loss).to.not.equal((await plain.trainStep(params, inputs)).loss);
    for (const kind of ['lr', 'fm'] as const) {
      const a = createModel({ kind, ...TINY });
      const b = createModel({ kind, ...TINY, dropout: RATE });
      expect((await b.trainStep(params.subarray(0, a.denseSize), inputs)).loss).to.equal((await a.trainStep(params.subarray(0, a.denseSize), inputs)).loss);
    }
  });

  it('a rate outside [0, 0.999] is refused naming model.dropout; 0 means none', () => {
    expect(() => createModel({ kind: 'deepfm', ...TINY, dropout: 1 })).to.throw(/model\.dropout: must be a rate in \[0, 0\.999\], got 1/);
    expect(() => createModel({ kind: 'deepfm', ...TINY, dropout: -0.1 })).to.throw(/model\.dropout/);
    expect(createModel({ kind: 'deepfm', ...TINY, dropout: 0 }).config).to.not.have.property('dropout');
  });
});
