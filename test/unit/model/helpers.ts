/** Shared fixtures of the model tests: seeded random batches, finite differences, AUC, log sink. */
import * as tf from '@tensorflow/tfjs';
import pino from 'pino';
import { selectBackend } from '../../../src/model/models';
import type { BackendName, BatchInputs, CtrModel, ModelConfig } from '../../../src/model/models';
import { loadNativeBlas, type NativeBlas } from '../../../src/model/native-kernels';

/**
 * Runs the enclosing suite on `name`, then puts back whatever backend was active before, so
 * other suites in the same mocha process see the tf engine as they left it.
 */
export function useBackend(name: BackendName): void {
  let previous: string | null = null;
  before(async () => {
    previous = tf.engine().backendName ?? null;
    const got = await selectBackend(undefined, name);
    if (got.name !== name) throw new Error(`backend ${name} unavailable here (got ${got.name})`);
  });
  after(async () => {
    if (previous !== null) await tf.setBackend(previous);
  });
}

/** The message a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a rejection; the promise resolved');
}

/** Uniform [0, 1) stream (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32Array of `n` values uniform in [-scale, scale). */
export function uniform(rand: () => number, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rand() - 1) * scale);
}

/** A random batch for `cfg` with 0/1 labels. */
export function randomBatch(cfg: ModelConfig, batch: number, seed: number): BatchInputs {
  const rand = rng(seed);
  return {
    batch,
    emb: uniform(rand, batch * cfg.numFields * cfg.embDim, 0.8),
    linear: uniform(rand, batch * cfg.numFields, 0.5),
    dense: uniform(rand, batch * cfg.numDense, 1),
    labels: Float32Array.from({ length: batch }, (_, i) => i % 2),
    // Lengths from 0 to each list's length; the embeddings past them are left random, so a
    // model that read them would not match the reference.
    ...(cfg.lists?.length ? { listLengths: Float32Array.from({ length: batch * cfg.lists.length }, (_, i) => Math.floor(rand() * (cfg.lists![i % cfg.lists!.length].length + 1))) } : {}),
  };
}

/** Mean log loss of `model` in float64 from its float32 probabilities. */
export async function lossOf(model: CtrModel, params: Float32Array, inputs: BatchInputs): Promise<number> {
  const p = await model.predict(params, inputs);
  const y = inputs.labels as Float32Array;
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum -= y[i] * Math.log(p[i]) + (1 - y[i]) * Math.log(1 - p[i]);
  return sum / p.length;
}

/** Central differences of `f` w.r.t. every element of `x` (perturbed in place, then restored). */
export async function centralDiff(x: Float32Array, eps: number, f: () => Promise<number>): Promise<Float64Array> {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const up = await f();
    x[i] = keep - eps;
    const down = await f();
    x[i] = keep;
    out[i] = (up - down) / (2 * eps);
  }
  return out;
}

/** Indices where |a − b| > atol + rtol·|b|, as readable strings (empty when all agree). */
export function mismatches(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): string[] {
  const bad: string[] = [];
  for (let i = 0; i < b.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) bad.push(`[${i}] got ${a[i]}, want ${b[i]}`);
  }
  if (a.length !== b.length) bad.push(`length ${a.length} vs ${b.length}`);
  return bad;
}

/** Rank AUC with tie handling (Mann-Whitney U). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((i, j) => scores[i] - scores[j]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) j++;
    const avgRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (labels[idx[k]] === 1) { pos++; rankSum += avgRank; }
    i = j;
  }
  const neg = idx.length - pos;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** A pino logger whose JSON lines land in `lines`. */
export function logSink(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { logger, lines };
}

/**
 * The native OpenBLAS addon for a suite that needs it; when it is not built, registers one test
 * that fails under TESSERA_REQUIRE_NATIVE=1 (CI) or is skipped otherwise, and returns undefined.
 */
export function nativeBlasOrSkip(): NativeBlas | undefined {
  const loaded = loadNativeBlas();
  if (loaded.ok) return loaded.blas;
  if (process.env.TESSERA_REQUIRE_NATIVE === '1') {
    it('is built (TESSERA_REQUIRE_NATIVE=1)', () => { throw new Error(loaded.reason); });
  } else {
    it.skip(`skipped: ${loaded.reason}`);
  }
  return undefined;
}
