/**
 * Issue 14: `constantWeights` (served versions): predict keeps the weights it was given uploaded
 * as tensors while the same array comes back, gives exactly the answers of a model that uploads
 * them every call, follows a new array, and frees the tensors on dispose.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { createModel } from '../../../src/model/models';
import type { ModelConfig } from '../../../src/model/models';
import { randomBatch, useBackend } from './helpers';

const CFG: ModelConfig = { kind: 'deepfm', numFields: 3, embDim: 4, numDense: 2, hidden: [8, 4], seed: 2 };

describe('constantWeights: served models keep their weights uploaded (issue 14)', () => {
  useBackend('cpu');

  it('answers as a model that uploads every call, reuses the tensors for the same array, follows a new one, frees on dispose', async () => {
    const kept = createModel(CFG, { constantWeights: true });
    const plain = createModel(CFG);
    const w1 = kept.initialDense();
    const w2 = w1.map((x) => x * 0.5 + 0.01);
    const before = tf.memory().numTensors;
    for (const [w, seed] of [[w1, 1], [w1, 2], [w2, 3], [w2, 4]] as const) {
      const x = randomBatch(CFG, 5, seed);
      expect(Array.from(await kept.predict(w, x))).to.deep.equal(Array.from(await plain.predict(w, x)));
      expect(tf.memory().numTensors - before, 'only the kept weights stay').to.equal(kept.layout.length);
    }
    kept.dispose();
    plain.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });
});
