/**
 * Model forward passes against the float64 reference, the flat-vector layout, seeded init,
 * config and input validation, and tensor hygiene (no leaks across steps).
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { createModel, describeLayout } from '../../../src/model/models';
import type { ModelConfig } from '../../../src/model/models';
import { mismatches, randomBatch, rejection, rng, uniform, useBackend } from './helpers';
import { referenceProbs } from './reference';

const KINDS: Array<ModelConfig['kind']> = ['lr', 'fm', 'deepfm', 'widedeep', 'dcn'];
const SHAPES: Array<Omit<ModelConfig, 'kind'>> = [
  { numFields: 3, embDim: 2, numDense: 2, hidden: [4, 3], crossLayers: 2 },
  { numFields: 4, embDim: 3, numDense: 0, hidden: [5], crossLayers: 1 },
  { numFields: 2, embDim: 2, numDense: 3, hidden: [], crossLayers: 0 },
];

describe('models (cpu)', function () {
  this.timeout(30000);
  useBackend('cpu');

  for (const kind of KINDS) {
    it(`${kind}: predict and trainStep probabilities match the float64 reference`, async () => {
      for (const [i, shape] of SHAPES.entries()) {
        const model = createModel({ kind, ...shape, seed: i });
        const params = model.initialDense();
        const jitter = uniform(rng(i + 1), params.length, 0.2);
        params.forEach((v, k) => { params[k] = v + jitter[k]; });
        const inputs = randomBatch(model.config, 5, 100 + i);
        const want = referenceProbs(model, params, inputs);
        expect(mismatches(await model.predict(params, inputs), want, 1e-5, 1e-4), `shape ${i}`).to.deep.equal([]);
        expect(mismatches((await model.trainStep(params, inputs)).probs, want, 1e-5, 1e-4), `shape ${i}`).to.deep.equal([]);
      }
    });
  }

  it('widedeep, dcn and lr also run with no categorical fields', async () => {
    for (const kind of ['widedeep', 'dcn', 'lr'] as const) {
      const model = createModel({ kind, numFields: 0, embDim: 4, numDense: 3, hidden: [4], crossLayers: 1 });
      const params = model.initialDense();
      const inputs = randomBatch(model.config, 4, 8);
      const step = await model.trainStep(params, inputs);
      expect(step.embGrad).to.have.length(0);
      expect(mismatches(step.probs, referenceProbs(model, params, inputs), 1e-5, 1e-4), kind).to.deep.equal([]);
    }
  });

  it('DeepFM layout for the Criteo shape is named, ordered and sized', () => {
    const model = createModel({ kind: 'deepfm', numFields: 26, embDim: 16, numDense: 13, hidden: [400, 400] });
    expect(describeLayout(model.layout).split('\n')).to.deep.equal([
      'mlp.0.w [429, 400] @0 (171600)', 'mlp.0.b [400] @171600 (400)',
      'mlp.1.w [400, 400] @172000 (160000)', 'mlp.1.b [400] @332000 (400)',
      'mlp.out.w [400, 1] @332400 (400)', 'mlp.out.b [1] @332800 (1)',
    ]);
    expect(model.denseSize).to.equal(332801);
  });

  it('DCN, W&D, LR layouts', () => {
    const names = (cfg: ModelConfig): string[] => createModel(cfg).layout.map((s) => `${s.name}:${s.shape.join('x')}`);
    const base = { numFields: 2, embDim: 3, numDense: 1, hidden: [4] };
    expect(names({ kind: 'dcn', ...base, crossLayers: 2 })).to.deep.equal([
      'cross.0.w:7x7', 'cross.0.b:7', 'cross.1.w:7x7', 'cross.1.b:7', 'mlp.0.w:7x4', 'mlp.0.b:4', 'out.w:11x1', 'out.b:1']);
    expect(names({ kind: 'widedeep', ...base })).to.deep.equal(['dense.w:1x1', 'mlp.0.w:7x4', 'mlp.0.b:4', 'mlp.out.w:4x1', 'mlp.out.b:1']);
    expect(names({ kind: 'lr', ...base })).to.deep.equal(['dense.w:1x1', 'bias:1']);
    expect(createModel({ kind: 'dcn', ...base }).config.crossLayers).to.equal(3);
  });

  it('initialDense is seeded Glorot-uniform with zero biases', () => {
    const cfg: ModelConfig = { kind: 'deepfm', numFields: 4, embDim: 4, numDense: 3, hidden: [16, 8], seed: 3 };
    const a = createModel(cfg).initialDense();
    expect(Buffer.from(a.buffer).equals(Buffer.from(createModel(cfg).initialDense().buffer))).to.equal(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(createModel({ ...cfg, seed: 4 }).initialDense().buffer))).to.equal(false);
    for (const s of createModel(cfg).layout) {
      const v = a.subarray(s.offset, s.offset + s.size);
      if (s.init === 'zeros') { expect(Array.from(v).every((x) => x === 0), s.name).to.equal(true); continue; }
      const limit = Math.sqrt(6 / (s.shape[0] + s.shape[1]));
      const max = Math.max(...Array.from(v, Math.abs));
      expect(max, s.name).to.be.at.most(limit).and.above(0.5 * limit);
    }
  });

  it('the linear weights of numeric inputs start at zero in LR, FM and Wide & Deep (issue 21: random ones sank LR to AUC 0.44 on Criteo)', () => {
    for (const kind of ['lr', 'fm', 'widedeep'] as const) {
      const model = createModel({ kind, numFields: 3, embDim: 2, numDense: 13, hidden: [4], seed: 1 });
      const w = model.layout.find((s) => s.name === 'dense.w')!;
      expect(w.init, kind).to.equal('zeros');
      expect(Array.from(model.initialDense().subarray(w.offset, w.offset + w.size)).every((x) => x === 0), kind).to.equal(true);
    }
  });

  it('config errors name the key', () => {
    const ok: ModelConfig = { kind: 'deepfm', numFields: 2, embDim: 2, numDense: 1, hidden: [4] };
    const bad = (patch: object): (() => unknown) => () => createModel({ ...ok, ...patch } as ModelConfig);
    expect(bad({ kind: 'dfm' })).to.throw(/^model\.kind: unknown model 'dfm'/);
    expect(bad({ embDim: 0 })).to.throw(/^model\.embDim: must be an integer >= 1, got 0/);
    expect(bad({ hidden: [4, -1] })).to.throw(/^model\.hidden\[1\]:/);
    expect(bad({ numFields: 0 })).to.throw(/^model\.numFields:/);
    expect(bad({ kind: 'dcn', crossLayers: 1.5 })).to.throw(/^model\.crossLayers:/);
    expect(() => createModel(ok, { denseLayer: 'fast' as never })).to.throw(/^denseLayer: unknown dense layer 'fast'/);
    try { bad({ kind: 'x' })(); } catch (e) { expect((e as { code: string }).code).to.equal('TESSERA_ERR_CONFIG'); }
  });

  it('input errors name the argument', async () => {
    const model = createModel({ kind: 'fm', numFields: 3, embDim: 2, numDense: 2, hidden: [] });
    const params = model.initialDense();
    const inputs = randomBatch(model.config, 3, 1);
    expect(await rejection(model.trainStep(params, { ...inputs, emb: inputs.emb.subarray(1) }))).to.match(/^inputs\.emb: expected 3 × 3 × 2 = 18 floats, got 17/);
    expect(await rejection(model.trainStep(params.subarray(1), inputs))).to.match(/^params: expected/);
    expect(await rejection(model.trainStep(params, { ...inputs, labels: undefined }))).to.match(/^inputs\.labels: required/);
    expect(await rejection(model.trainStep(params, { ...inputs, labels: Float32Array.of(0, 2, 1) }))).to.match(/^inputs\.labels: label 1 is 2/);
    // An input the model does not read may be passed empty.
    const lr = createModel({ kind: 'lr', numFields: 3, embDim: 2, numDense: 2, hidden: [] });
    expect(await lr.predict(lr.initialDense(), { ...inputs, emb: new Float32Array(0) })).to.have.length(3);
  });

  it('no tensor leaks: numTensors is unchanged after 10 steps of every model', async () => {
    for (const kind of KINDS) {
      const model = createModel({ kind, numFields: 3, embDim: 2, numDense: 2, hidden: [4, 3], crossLayers: 2 });
      const params = model.initialDense();
      const inputs = randomBatch(model.config, 8, 2);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) { await model.trainStep(params, inputs); await model.predict(params, inputs); }
      expect(tf.memory().numTensors, kind).to.equal(before);
      model.dispose();
      expect(await rejection(model.predict(params, inputs))).to.match(/used after dispose/);
    }
  });
});
