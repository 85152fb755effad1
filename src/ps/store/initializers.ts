/**
 * Row initialisers. A row's initial weights depend only on `(tableSeed, id)`, never on insertion
 * order or on which PS creates it, so a row evicted and recreated, or recreated on another PS after
 * a reshard, is bit-identical. The generator is counter-based: element `c` of row `id` is a pure
 * hash of `(seed, lo, hi, c)` built from `Math.imul` mixing (murmur3's fmix32 finaliser), so no
 * generator state is kept anywhere.
 */
import { badConfig, checkKeys, checkNumber, checkObject } from '../optimizers/config-check';
import { fmix32 } from '../../common/fmix32';

/**
 * How fresh rows are filled.
 * - `zeros`, `constant`: every weight is 0 / `value`.
 * - `uniform`: uniform in `[-scale, scale)`.
 * - `normal`: normal with mean 0 and standard deviation `std`, truncated at 2 std by rejection
 *   (like TF's `truncated_normal`; the resulting std is about 0.88 * `std`).
 */
export type InitializerConfig =
  | { kind: 'zeros' }
  | { kind: 'constant'; value: number }
  | { kind: 'uniform'; scale: number }
  | { kind: 'normal'; std: number };

/** What a table uses when its spec names no initializer. */
export const DEFAULT_INITIALIZER: Readonly<InitializerConfig> = Object.freeze({ kind: 'uniform', scale: 0.01 });

/** Larger magnitudes would overflow float32 weights. */
const MAX_INIT_MAGNITUDE = 1e30;
const MAGNITUDE_BOUNDS = { min: -MAX_INIT_MAGNITUDE, max: MAX_INIT_MAGNITUDE };
const TWO_POW_NEG_32 = 1 / 4294967296;
const GOLDEN = 0x9e3779b9;

/** First key half of a row's counter stream, derived from the table seed and the id. */
function rowKeyA(seed: number, lo: number): number {
  return fmix32((lo ^ fmix32((seed ^ GOLDEN) >>> 0)) >>> 0);
}

/** Second key half; depends on all of seed, lo (through keyA) and hi. */
function rowKeyB(seed: number, hi: number, keyA: number): number {
  return fmix32((hi ^ Math.imul(keyA, 0x27d4eb2d) ^ seed) >>> 0);
}

/** Uniform in (0, 1) for counter `c` of the row keyed `(keyA, keyB)`; 32 random bits. */
function uniformAt(keyA: number, keyB: number, c: number): number {
  const x = fmix32((keyA + Math.imul(c + 1, GOLDEN)) >>> 0);
  const y = fmix32((x ^ keyB) >>> 0);
  return (y + 0.5) * TWO_POW_NEG_32;
}

/**
 * Fills `out[off..off+dim)` with the initial weights of row `(lo, hi)`. Deterministic in
 * `(cfg, tableSeed, lo, hi)` only; `tableSeed` is taken modulo 2^32.
 *
 * ```ts
 * const w = new Float32Array(16);
 * initRow({ kind: 'uniform', scale: 0.01 }, 7, 42, 0, w, 0, 16); // same bits on every PS
 * ```
 */
export function initRow(
  cfg: InitializerConfig, tableSeed: number, lo: number, hi: number,
  out: Float32Array, off: number, dim: number,
): void {
  switch (cfg.kind) {
    case 'zeros':
      out.fill(0, off, off + dim);
      return;
    case 'constant':
      out.fill(cfg.value, off, off + dim);
      return;
    default: {
      const seed = tableSeed >>> 0;
      const a = rowKeyA(seed, lo >>> 0);
      const b = rowKeyB(seed, hi >>> 0, a);
      if (cfg.kind === 'uniform') {
        const twoScale = 2 * cfg.scale;
        for (let j = 0; j < dim; j++) out[off + j] = (uniformAt(a, b, j) - 0.5) * twoScale;
      } else {
        fillTruncatedNormal(a, b, cfg.std, out, off, dim);
      }
    }
  }
}

/**
 * Box-Muller on consecutive counters, keeping only samples within 2 std (about 95.4% are kept).
 * Counters advance through the row's stream deterministically, so rejections are reproducible.
 */
function fillTruncatedNormal(a: number, b: number, std: number, out: Float32Array, off: number, dim: number): void {
  let c = 0;
  let j = 0;
  while (j < dim) {
    const u1 = uniformAt(a, b, c);
    const u2 = uniformAt(a, b, c + 1);
    c += 2;
    const r = Math.sqrt(-2 * Math.log(u1));
    const z = r * Math.cos(2 * Math.PI * u2);
    if (z >= -2 && z <= 2) out[off + j++] = z * std;
  }
}

/**
 * Validates an initializer config and returns a normalised copy. Errors name the key, e.g.
 * `initializer.std must be >= 0 (got -1)`.
 */
export function validateInitializer(cfg: unknown, key = 'initializer'): InitializerConfig {
  const o = checkObject(key, cfg);
  switch (o.kind) {
    case 'zeros':
      checkKeys(key, o, ['kind']);
      return { kind: 'zeros' };
    case 'constant':
      checkKeys(key, o, ['kind', 'value']);
      return { kind: 'constant', value: checkNumber(`${key}.value`, o.value, MAGNITUDE_BOUNDS) };
    case 'uniform':
      checkKeys(key, o, ['kind', 'scale']);
      return { kind: 'uniform', scale: checkNumber(`${key}.scale`, o.scale, { min: 0, max: MAX_INIT_MAGNITUDE }) };
    case 'normal':
      checkKeys(key, o, ['kind', 'std']);
      return { kind: 'normal', std: checkNumber(`${key}.std`, o.std, { min: 0, max: MAX_INIT_MAGNITUDE }) };
    default:
      return badConfig(`${key}.kind`, 'must be one of zeros, constant, uniform, normal', o.kind);
  }
}
