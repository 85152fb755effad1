/**
 * Learning sanity: DeepFM trained through its returned gradients, with the PS simulated by plain
 * arrays (per-field embedding and linear tables updated by sparse SGD, the dense vector by SGD),
 * recovers a planted logistic rule on 2,000 synthetic rows.
 */
import { expect } from 'chai';
import { createModel } from '../../../src/model/models';
import type { BatchInputs, CtrModel } from '../../../src/model/models';
import { auc, rng, useBackend } from './helpers';

const F = 4;
const VOCAB = 25;
const D = 4;
const N_DENSE = 2;
const BATCH = 100;

interface Rows { ids: Int32Array; dense: Float32Array; labels: Float32Array; oracle: Float64Array }

/** Rows whose label is Bernoulli(sigmoid(Σ_f w[f][id] + 0.8·dense0 − 0.8·dense1)). */
function plantedRows(n: number, seed: number): Rows {
  const rand = rng(seed);
  const w = rng(99); // the rule itself is fixed across calls
  const weights = Float64Array.from({ length: F * VOCAB }, () => (2 * w() - 1) * 2.5);
  const rows: Rows = { ids: new Int32Array(n * F), dense: new Float32Array(n * N_DENSE), labels: new Float32Array(n), oracle: new Float64Array(n) };
  for (let r = 0; r < n; r++) {
    let z = 0;
    for (let f = 0; f < F; f++) {
      const id = Math.floor(rand() * VOCAB);
      rows.ids[r * F + f] = id;
      z += weights[f * VOCAB + id];
    }
    const d0 = 2 * rand() - 1;
    const d1 = 2 * rand() - 1;
    rows.dense.set([d0, d1], r * N_DENSE);
    z += 0.8 * d0 - 0.8 * d1;
    rows.oracle[r] = z;
    rows.labels[r] = rand() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return rows;
}

/** The simulated PS: one embedding and one linear table per field, plus the dense vector. */
class FakePs {
  readonly emb: Float32Array;
  readonly linear = new Float32Array(F * VOCAB);
  constructor(readonly dense: Float32Array) {
    const rand = rng(3);
    this.emb = Float32Array.from({ length: F * VOCAB * D }, () => (2 * rand() - 1) * 0.05);
  }

  /** Gathers the batch [from, from + b) of `rows`, as a worker would after a Pull. */
  pull(rows: Rows, from: number, b: number): BatchInputs {
    const emb = new Float32Array(b * F * D);
    const linear = new Float32Array(b * F);
    for (let r = 0; r < b; r++) {
      for (let f = 0; f < F; f++) {
        const row = f * VOCAB + rows.ids[(from + r) * F + f];
        emb.set(this.emb.subarray(row * D, row * D + D), (r * F + f) * D);
        linear[r * F + f] = this.linear[row];
      }
    }
    const dense = rows.dense.subarray(from * N_DENSE, (from + b) * N_DENSE);
    return { batch: b, emb, linear, dense, labels: rows.labels.subarray(from, from + b) };
  }

  /** Sparse SGD: each gradient row is applied to the table row it was pulled from. */
  push(rows: Rows, from: number, b: number, g: { embGrad: Float32Array; linearGrad: Float32Array; denseGrad: Float32Array }, lr: { sparse: number; dense: number }): void {
    for (let r = 0; r < b; r++) {
      for (let f = 0; f < F; f++) {
        const row = f * VOCAB + rows.ids[(from + r) * F + f];
        for (let d = 0; d < D; d++) this.emb[row * D + d] -= lr.sparse * g.embGrad[(r * F + f) * D + d];
        this.linear[row] -= lr.sparse * g.linearGrad[r * F + f];
      }
    }
    for (let i = 0; i < this.dense.length; i++) this.dense[i] -= lr.dense * g.denseGrad[i];
  }
}

async function predictAll(model: CtrModel, ps: FakePs, rows: Rows): Promise<Float32Array> {
  const n = rows.labels.length;
  const out = new Float32Array(n);
  for (let from = 0; from < n; from += BATCH) out.set(await model.predict(ps.dense, ps.pull(rows, from, Math.min(BATCH, n - from))), from);
  return out;
}

describe('DeepFM learns a planted rule through PS-style updates', function () {
  this.timeout(30000);
  useBackend('cpu');

  it('reaches held-out AUC > 0.8 in a few epochs', async () => {
    const model = createModel({ kind: 'deepfm', numFields: F, embDim: D, numDense: N_DENSE, hidden: [16, 8], seed: 1 });
    const ps = new FakePs(model.initialDense());
    const train = plantedRows(2000, 1);
    const test = plantedRows(1000, 2);
    const before = auc(await predictAll(model, ps, test), test.labels);
    for (let epoch = 0; epoch < 5; epoch++) {
      for (let from = 0; from < 2000; from += BATCH) {
        const step = await model.trainStep(ps.dense, ps.pull(train, from, BATCH));
        ps.push(train, from, BATCH, step, { sparse: 2, dense: 0.2 });
      }
    }
    const after = auc(await predictAll(model, ps, test), test.labels);
    const oracle = auc(test.oracle, test.labels);
    expect(oracle, 'the planted rule is learnable').to.be.above(0.85);
    expect(before, 'untrained model is near chance').to.be.below(0.65);
    expect(after, `AUC after training (oracle ${oracle.toFixed(3)})`).to.be.above(0.8);
  });
});
