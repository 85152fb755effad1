/**
 * Checks a batch against the model's shapes and turns it into tensors. Shape errors name the
 * argument (`inputs.emb: expected 3 × 3 × 2 = 18 floats, got 17`) and carry
 * TESSERA_ERR_INVALID_ARGUMENT: a worker bug must not surface as an opaque tfjs shape error.
 */
import * as tf from '@tensorflow/tfjs';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { BatchInputs, ModelConfig } from './types';

/** The batch as tensors; a part is absent when it is empty or the model does not read it. */
export interface InputTensors {
  emb?: tf.Tensor3D;
  linear?: tf.Tensor2D;
  dense?: tf.Tensor2D;
  /** [B, lists] elements present per list; absent without lists. */
  lengths?: tf.Tensor2D;
}

function invalid(key: string, msg: string): TesseraError {
  return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${key}: ${msg}`);
}

function checkLength(key: string, arr: unknown, dims: number[], allowEmpty: boolean): void {
  const want = dims.reduce((a, b) => a * b, 1);
  if (!(arr instanceof Float32Array)) throw invalid(key, 'expected a Float32Array');
  if (arr.length === want || (allowEmpty && arr.length === 0)) return;
  throw invalid(key, `expected ${dims.join(' × ')} = ${want} floats, got ${arr.length}`);
}

function checkLabels(labels: Float32Array | undefined, batch: number): void {
  if (labels === undefined) throw invalid('inputs.labels', 'required by trainStep');
  checkLength('inputs.labels', labels, [batch], false);
  for (let i = 0; i < batch; i++) {
    const y = labels[i];
    if (!(y >= 0 && y <= 1)) throw invalid('inputs.labels', `label ${i} is ${y}; expected a value in [0, 1]`);
  }
}

/**
 * Validates `params` and `inputs`. An input the model does not read (`reads`) may be passed empty.
 */
export function checkBatch(
  cfg: Readonly<ModelConfig>, reads: Readonly<{ emb: boolean; linear: boolean }>, denseSize: number,
  params: Float32Array, inputs: BatchInputs, needLabels: boolean,
): void {
  checkLength('params', params, [denseSize], false);
  const b = inputs.batch;
  if (!Number.isInteger(b) || b < 1) throw invalid('inputs.batch', `must be a positive integer, got ${b}`);
  checkLength('inputs.emb', inputs.emb, [b, cfg.numFields, cfg.embDim], !reads.emb);
  checkLength('inputs.linear', inputs.linear, [b, cfg.numFields], !reads.linear);
  checkLength('inputs.dense', inputs.dense, [b, cfg.numDense], false);
  if (cfg.lists !== undefined && cfg.lists.length > 0) checkListLengths(cfg, inputs.listLengths, b);
  if (needLabels) checkLabels(inputs.labels, b);
}

/** [B × lists] integers, each in [0, that list's length]. */
function checkListLengths(cfg: Readonly<ModelConfig>, lengths: Float32Array | undefined, batch: number): void {
  const lists = cfg.lists ?? [];
  if (lengths === undefined) throw invalid('inputs.listLengths', `required: the model has ${lists.length} list input(s)`);
  checkLength('inputs.listLengths', lengths, [batch, lists.length], false);
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i];
    const max = lists[i % lists.length].length;
    if (!(Number.isInteger(n) && n >= 0 && n <= max)) {
      throw invalid('inputs.listLengths', `entry ${i} is ${n}; expected an integer in [0, ${max}] (list ${i % lists.length}'s length)`);
    }
  }
}

/** Tensors of the parts the model reads (call inside tf.tidy). */
export function inputTensors(
  cfg: Readonly<ModelConfig>, reads: Readonly<{ emb: boolean; linear: boolean }>, inputs: BatchInputs,
): InputTensors {
  const b = inputs.batch;
  const f = cfg.numFields;
  return {
    emb: reads.emb && f > 0 ? tf.tensor3d(inputs.emb, [b, f, cfg.embDim]) : undefined,
    linear: reads.linear && f > 0 ? tf.tensor2d(inputs.linear, [b, f]) : undefined,
    dense: cfg.numDense > 0 ? tf.tensor2d(inputs.dense, [b, cfg.numDense]) : undefined,
    lengths: cfg.lists?.length ? tf.tensor2d(inputs.listLengths as Float32Array, [b, cfg.lists.length]) : undefined,
  };
}

/** Writes sigmoid(z) into `out`, in the overflow-free form. */
export function sigmoidInto(z: ArrayLike<number>, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) {
    const v = z[i];
    if (v >= 0) out[i] = 1 / (1 + Math.exp(-v));
    else { const e = Math.exp(v); out[i] = e / (1 + e); }
  }
}

/**
 * Mean sigmoid cross-entropy of logits `z` against `labels`, in float64 and in the stable form
 * max(z, 0) − z·y + log(1 + exp(−|z|)): the loss a step reports when it is computed on the host.
 */
export function meanLogLossOf(z: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    const v = z[i];
    sum += Math.max(v, 0) - v * labels[i] + Math.log1p(Math.exp(-Math.abs(v)));
  }
  return sum / z.length;
}
