/**
 * Inverted dropout on the hidden layers of the MLP tower, training steps only: each hidden unit
 * of each example is kept with probability 1 − rate and then scaled by 1 / (1 − rate), so a
 * prediction (no dropout) sees activations of the same expected size.
 *
 * The masks come from a counter-based hash, not a random stream: unit c of example r in hidden
 * layer i at a step is kept when `fmix32(fmix32(key ^ (i + 1)·φ) ^ (r·width + c)) >= threshold`,
 * with `key = fmix32(seed ^ fmix32(step + 1))` for the model seed and the model's count of
 * training steps. The same formula is written once in TypeScript (the tfjs path builds the mask
 * as a tensor) and once in WGSL (`DROPOUT_WGSL`, the fused webgpu step computes it in place), so
 * every backend drops the same units and the fused step matches the tfjs one bit for bit in its
 * masks (tested on a software Vulkan).
 */
import { fmix32 } from '../common/fmix32';

/** The golden-ratio constant that spreads layer numbers before hashing. */
const LAYER_MIX = 0x9e3779b9;
/** 2^32: the hash's range. */
const TWO_32 = 4294967296;

/** Largest dropout rate accepted: above it the kept units' scale grows past 1,000. */
export const MAX_DROPOUT = 0.999;

/** The uint32 a unit's hash must reach to be kept: floor(rate · 2^32). */
export function dropoutThreshold(rate: number): number {
  return Math.min(TWO_32 - 1, Math.floor(rate * TWO_32));
}

/** What a kept unit is multiplied by: 1 / (1 − rate), rounded to float32 as both paths use it. */
export function dropoutScale(rate: number): number {
  return Math.fround(1 / (1 - rate));
}

/** The key of training step `step` (0-based) of a model seeded `seed`. */
export function dropoutKey(seed: number, step: number): number {
  return fmix32((seed ^ fmix32((step + 1) >>> 0)) >>> 0);
}

/** The per-layer key: `fmix32(key ^ (layer + 1)·φ)`. */
function layerKey(key: number, layer: number): number {
  return fmix32((key ^ Math.imul(layer + 1, LAYER_MIX)) >>> 0);
}

/**
 * The [batch × width] mask of hidden layer `layer` for step key `key`: 0 for a dropped unit,
 * `dropoutScale(rate)` for a kept one, row-major (example r, unit c at r·width + c).
 *
 * ```ts
 * const m = dropoutMask(dropoutKey(1, 0), 0, 256, 400, 0.2); // about 80% of entries are 1.25
 * ```
 */
export function dropoutMask(key: number, layer: number, batch: number, width: number, rate: number): Float32Array {
  const out = new Float32Array(batch * width);
  const lk = layerKey(key, layer);
  const threshold = dropoutThreshold(rate);
  const scale = dropoutScale(rate);
  for (let i = 0; i < out.length; i++) if (fmix32((lk ^ i) >>> 0) >= threshold) out[i] = scale;
  return out;
}

/**
 * WGSL of the same mask: `dropKeep(key, layer, index)` is true when unit `index` (r·width + c) of
 * hidden layer `layer` is kept at step key `key`, for the given threshold.
 */
export function dropoutWgsl(rate: number): string {
  return `const DROP_THRESHOLD = ${dropoutThreshold(rate)}u;
const DROP_SCALE = ${dropoutScale(rate)};
fn fmix32(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u; h *= 0x85ebca6bu; h ^= h >> 13u; h *= 0xc2b2ae35u; h ^= h >> 16u;
  return h;
}
fn dropKeep(key: u32, layer: u32, index: u32) -> bool {
  let lk = fmix32(key ^ ((layer + 1u) * ${LAYER_MIX}u));
  return fmix32(lk ^ index) >= DROP_THRESHOLD;
}`;
}
