/**
 * bench:model — trainStep throughput of DeepFM (Criteo shape: F=26, D=16, 13 numeric features,
 * MLP 429→400→400→1, batch 1024) on the selected tfjs backend: the model as a worker builds it
 * (`deepfm_*`: on the wasm backend with the native OpenBLAS kernels built, the native tower step,
 * ADR 0046), then the tfjs graph with each dense-layer backward (explicit transposes, transposed
 * matMuls, and as the peer measured in the same run, tfjs autodiff). `TESSERA_NATIVE_KERNELS=0`
 * measures the wasm backend's own kernels. Each variant also reports its CPU ms per step
 * (`process.cpuUsage`, every thread of the process), the figure to compare on a loaded machine.
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
import type { BatchInputs, CtrModel, ModelConfig, ModelOptions } from '../src/model/models';
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

interface Rate { perS: number; steps: number; cpuMs: number }

/** Samples per second of `fn` (one call = one batch), and its CPU ms per call. */
async function rate(batch: number, steps: number, maxSeconds: number, fn: () => Promise<unknown>): Promise<Rate> {
  await fn(); // warm-up: kernel compilation, first allocations
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let done = 0;
  let s = 0;
  while (done < steps && s < maxSeconds) {
    await fn();
    done++;
    s = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  const cpu = process.cpuUsage(cpu0);
  return { perS: (done * batch) / s, steps: done, cpuMs: (cpu.user + cpu.system) / 1000 / done };
}

/** The trainStep of DeepFM built with `opts` (default: as a worker builds it). */
async function measure(opts: ModelOptions, inputs: BatchInputs, steps: number, maxS: number): Promise<{ train: number; steps: number; cpuMs: number; model: CtrModel }> {
  const model = createModel(CONFIG, opts);
  const params = model.initialDense();
  const r = await rate(inputs.batch, steps, maxS, () => model.trainStep(params, inputs));
  return { train: r.perS, steps: r.steps, cpuMs: r.cpuMs, model };
}

const ms = (v: number): number => Number(v.toFixed(2));

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const batch = argNum('batch', 1024);
  const steps = argNum('steps', 10);
  const maxS = argNum('max-seconds', 30);
  const backend = await selectBackend(createLogger({ level: 'info', base: { component: 'model-bench' } }), arg('backend'),
    { threads: tfThreads(arg('threads') ?? process.env.TESSERA_TF_THREADS) });
  const inputs = randomInputs(CONFIG, batch);
  const chosen = defaultDenseLayer();
  const worker = await measure({}, inputs, steps, maxS);
  const params = worker.model.initialDense();
  const predict = await rate(batch, steps, maxS, () => worker.model.predict(params, inputs));
  const explicit = await measure({ denseLayer: 'explicit-transpose', nativeStep: false }, inputs, steps, maxS);
  const flags = await measure({ denseLayer: 'transposed-matmul', nativeStep: false }, inputs, steps, maxS);
  const fast = chosen === 'transposed-matmul' ? flags : explicit;
  const slow = await measure({ denseLayer: 'autodiff', nativeStep: false }, inputs, steps, maxS);
  const result = {
    bench: 'model',
    backend: backend.name,
    backend_detail: backend.detail,
    model: 'deepfm F=26 D=16 dense=13 mlp 429-400-400-1',
    batch,
    dense_size: worker.model.denseSize,
    dense_layer: chosen,
    deepfm_samples_per_s: Math.round(worker.train),
    deepfm_cpu_ms_per_step: ms(worker.cpuMs),
    tfjs_graph_cpu_ms_per_step: ms(fast.cpuMs),
    explicit_transpose_samples_per_s: Math.round(explicit.train),
    transposed_matmul_samples_per_s: Math.round(flags.train),
    autodiff_samples_per_s: Math.round(slow.train),
    speedup: Number((fast.train / slow.train).toFixed(2)),
    predict_samples_per_s: Math.round(predict.perS),
    steps: { deepfm: worker.steps, explicit: explicit.steps, transposed: flags.steps, autodiff: slow.steps, predict: predict.steps },
  };
  console.log(`backend ${backend.name}: ${backend.detail}`);
  console.log(`trainStep, as a worker builds it: ${result.deepfm_samples_per_s} samples/s, ${result.deepfm_cpu_ms_per_step} CPU ms/step (${worker.steps} steps of ${batch})`);
  console.log(`trainStep, explicit transposes: ${result.explicit_transpose_samples_per_s} samples/s (${explicit.steps} steps of ${batch})`);
  console.log(`trainStep, transposed matMuls:  ${result.transposed_matmul_samples_per_s} samples/s, ${ms(flags.cpuMs)} CPU ms/step (${flags.steps} steps)`);
  console.log(`trainStep, tfjs autodiff:       ${result.autodiff_samples_per_s} samples/s (${slow.steps} steps) → default (${chosen}) is ${result.speedup}×`);
  console.log(`predict:                        ${result.predict_samples_per_s} samples/s`);
  if (json) console.log(JSON.stringify(result));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
