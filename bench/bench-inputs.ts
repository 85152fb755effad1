/** Inputs of the model benchmarks. */
import type { BatchInputs, ModelConfig } from '../src/model/models';

/**
 * A fixed pseudo-random batch for `cfg` (an LCG from `seed`): small embeddings and first-order
 * weights, numeric features in ±1, one positive label in four.
 */
export function randomInputs(cfg: ModelConfig, batch: number, seed = 12345): BatchInputs {
  let s = seed >>> 0;
  const rand = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 4294967296 - 0.5; };
  const fill = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => rand() * scale);
  return {
    batch,
    emb: fill(batch * cfg.numFields * cfg.embDim, 0.1),
    linear: fill(batch * cfg.numFields, 0.1),
    dense: fill(batch * cfg.numDense, 2),
    labels: Float32Array.from({ length: batch }, (_, i) => (i % 4 === 0 ? 1 : 0)),
  };
}
