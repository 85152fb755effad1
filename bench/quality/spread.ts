/**
 * Mean and spread of a figure over seeds: 2,000 validation rows put about ±0.01 of noise on an
 * AUC, so bench:quality reports every figure over several seeds rather than one run.
 */

/** A figure over seeds. */
export interface Spread {
  mean: number;
  /** Sample standard deviation (n − 1); 0 for a single value. */
  sd: number;
  min: number;
  max: number;
  /** Each seed's value, in seed order. */
  values: number[];
}

/** The spread of `values` (at least one). */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), values: [...values] };
}

/** `0.7231 ± 0.0042` (mean ± sd), for tables. */
export function formatSpread(s: Spread, digits = 4): string {
  return `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;
}
