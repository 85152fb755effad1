/**
 * Gradient checks: every model's embGrad, linearGrad and denseGrad against central finite
 * differences of the mean log loss, on the cpu backend. Inputs are seeded, so the check is
 * deterministic; tolerances are far below the typical gradient entry, so a wrong sign or a
 * missing term fails (the last case proves it by flipping one sign).
 */
import { expect } from 'chai';
import { createModel } from '../../../src/model/models';
import type { CtrModel, ModelConfig, StepResult } from '../../../src/model/models';
import { centralDiff, useBackend, lossOf, mismatches, randomBatch, rng, uniform } from './helpers';

const TINY = { numFields: 3, embDim: 2, numDense: 2, hidden: [4, 3], crossLayers: 2, seed: 7 };
const KINDS: Array<ModelConfig['kind']> = ['lr', 'fm', 'deepfm', 'widedeep', 'dcn'];
/**
 * eps = 1e-2 crosses ReLU kinks on these inputs (worst error 38× the tolerance, widedeep); at 1e-3
 * the worst entry is 0.06× the tolerance, and float32 loss noise (~1e-7 / eps) stays under ATOL.
 */
const EPS = 1e-3;
const ATOL = 5e-4;
const RTOL = 2e-2;

interface Checked { model: CtrModel; step: StepResult; fd: { emb: Float64Array; linear: Float64Array; dense: Float64Array } }

async function check(kind: ModelConfig['kind']): Promise<Checked> {
  const model = createModel({ kind, ...TINY });
  const inputs = randomBatch(model.config, 3, 11);
  // Non-zero biases so that their gradients and the kinks they move are exercised too.
  const params = model.initialDense();
  const jitter = uniform(rng(5), params.length, 0.1);
  params.forEach((v, i) => { params[i] = v + jitter[i]; });
  const step = await model.trainStep(params, inputs);
  const f = (): Promise<number> => lossOf(model, params, inputs);
  const fd = { emb: await centralDiff(inputs.emb, EPS, f), linear: await centralDiff(inputs.linear, EPS, f), dense: await centralDiff(params, EPS, f) };
  expect(step.loss).to.be.closeTo(await f(), 1e-5);
  return { model, step, fd };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

describe('model gradients vs finite differences (cpu)', function () {
  this.timeout(30000);
  useBackend('cpu');

  for (const kind of KINDS) {
    it(`${kind}: embGrad, linearGrad and denseGrad match`, async () => {
      const { model, step, fd } = await check(kind);
      expect(mismatches(step.embGrad, fd.emb, ATOL, RTOL), 'embGrad').to.deep.equal([]);
      expect(mismatches(step.linearGrad, fd.linear, ATOL, RTOL), 'linearGrad').to.deep.equal([]);
      expect(mismatches(step.denseGrad, fd.dense, ATOL, RTOL), 'denseGrad').to.deep.equal([]);
      // Each gradient the model reads is far above the tolerance, so the comparison has teeth.
      if (model.reads.emb) expect(maxAbs(fd.emb)).to.be.above(20 * ATOL);
      if (model.reads.linear) expect(maxAbs(fd.linear)).to.be.above(20 * ATOL);
      expect(maxAbs(fd.dense)).to.be.above(20 * ATOL);
      model.layout.forEach((s) => {
        const g = fd.dense.subarray(s.offset, s.offset + s.size);
        expect(maxAbs(g), `slice ${s.name} has a gradient`).to.be.above(ATOL);
      });
    });
  }

  it('lr ignores emb and dcn ignores linear: those gradients are exactly zero', async () => {
    const lr = await check('lr');
    expect(lr.model.reads.emb).to.equal(false);
    expect(Array.from(lr.step.embGrad).every((v) => v === 0)).to.equal(true);
    const dcn = await check('dcn');
    expect(dcn.model.reads.linear).to.equal(false);
    expect(Array.from(dcn.step.linearGrad).every((v) => v === 0)).to.equal(true);
  });

  it('the check rejects a gradient with one sign flipped', async () => {
    const { step, fd } = await check('deepfm');
    for (const [g, want] of [[step.embGrad, fd.emb], [step.denseGrad, fd.dense]] as const) {
      const flipped = Float32Array.from(g);
      const i = flipped.reduce((best, v, k) => (Math.abs(v) > Math.abs(flipped[best]) ? k : best), 0);
      flipped[i] = -flipped[i];
      expect(mismatches(flipped, want, ATOL, RTOL)).to.have.length(1);
    }
  });
});
