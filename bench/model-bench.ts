/**
 * bench:model — trainStep throughput of DeepFM (Criteo shape: F=26, D=16, 13 numeric features,
 * MLP 429→400→400→1, batch 1024) on the selected tfjs backend, for each dense-layer backward
 * (explicit transposes, transposed matMuls, and as the peer measured in the same run, tfjs
 * autodiff). The wasm backend runs with the native OpenBLAS matMul kernels when they are built;
 * `TESSERA_NATIVE_KERNELS=0` measures the wasm backend's own kernels.
 *
 *   node dist/bench/model-bench.js [--json] [--backend tensorflow|wasm|cpu] [--threads auto|N] [--batch N] [--steps N] [--max-seconds S]
 *
 * Each variant runs one untimed warm-up step, then `--steps` timed steps (default 10) or until
 * `--max-seconds` (default 30) pass, whichever comes first. Inputs are random but fixed; the
 * parameters are not updated between steps, which does not change the cost of a step.
 * With --json the last stdout line is one JSON object.
 */
import { createLogger } from '../src/common/logger';
import { createModel, defaultDenseLayer, selectBackend } from '../src/model/models';
import { tfThreads } from '../src/model/backend';
import type { BatchInputs, CtrModel, DenseLayerImpl, ModelConfig } from '../src/model/models';
import { randomInputs } from './bench-inputs';

const CONFIG: ModelConfig = { kind: 'deepfm', numFields: 26, embDim: 16, numDense: 13, hidden: [400, 400], seed: 1 };

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function argNum(name: string, fallback: number): number {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!(v > 0)) throw new Error(`--${name} needs a positive number, got ${raw}`);
  return v;
}

/** Samples per second of `fn` (one call = one batch). */
async function rate(batch: number, steps: number, maxSeconds: number, fn: () => Promise<unknown>): Promise<{ perS: number; steps: number }> {
  await fn(); // warm-up: kernel compilation, first allocations
  const t0 = process.hrtime.bigint();
  let done = 0;
  let s = 0;
  while (done < steps && s < maxSeconds) {
    await fn();
    done++;
    s = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  return { perS: (done * batch) / s, steps: done };
}

async function measure(impl: DenseLayerImpl, inputs: BatchInputs, steps: number, maxS: number): Promise<{ train: number; steps: number; model: CtrModel }> {
  const model = createModel(CONFIG, { denseLayer: impl });
  const params = model.initialDense();
  const r = await rate(inputs.batch, steps, maxS, () => model.trainStep(params, inputs));
  return { train: r.perS, steps: r.steps, model };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const batch = argNum('batch', 1024);
  const steps = argNum('steps', 10);
  const maxS = argNum('max-seconds', 30);
  const backend = await selectBackend(createLogger({ level: 'info', base: { component: 'model-bench' } }), arg('backend'),
    { threads: tfThreads(arg('threads') ?? process.env.TESSERA_TF_THREADS) });
  const inputs = randomInputs(CONFIG, batch);
  const chosen = defaultDenseLayer();
  const explicit = await measure('explicit-transpose', inputs, steps, maxS);
  const flags = await measure('transposed-matmul', inputs, steps, maxS);
  const fast = chosen === 'transposed-matmul' ? flags : explicit;
  const params = fast.model.initialDense();
  const predict = await rate(batch, steps, maxS, () => fast.model.predict(params, inputs));
  const slow = await measure('autodiff', inputs, steps, maxS);
  const result = {
    bench: 'model',
    backend: backend.name,
    backend_detail: backend.detail,
    model: 'deepfm F=26 D=16 dense=13 mlp 429-400-400-1',
    batch,
    dense_size: fast.model.denseSize,
    dense_layer: chosen,
    deepfm_samples_per_s: Math.round(fast.train),
    explicit_transpose_samples_per_s: Math.round(explicit.train),
    transposed_matmul_samples_per_s: Math.round(flags.train),
    autodiff_samples_per_s: Math.round(slow.train),
    speedup: Number((fast.train / slow.train).toFixed(2)),
    predict_samples_per_s: Math.round(predict.perS),
    steps: { explicit: explicit.steps, transposed: flags.steps, autodiff: slow.steps, predict: predict.steps },
  };
  console.log(`backend ${backend.name}: ${backend.detail}`);
  console.log(`trainStep, explicit transposes: ${result.explicit_transpose_samples_per_s} samples/s (${explicit.steps} steps of ${batch})`);
  console.log(`trainStep, transposed matMuls:  ${result.transposed_matmul_samples_per_s} samples/s (${flags.steps} steps)`);
  console.log(`trainStep, tfjs autodiff:       ${result.autodiff_samples_per_s} samples/s (${slow.steps} steps) → default (${chosen}) is ${result.speedup}×`);
  console.log(`predict:                        ${result.predict_samples_per_s} samples/s`);
  if (json) console.log(JSON.stringify(result));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
