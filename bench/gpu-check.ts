/**
 * The Node sections of scripts/gpu-check.sh (issue #20). Each prints one JSON line on stdout, the
 * last line, with `"section"` naming it:
 *
 *   node dist/bench/gpu-check.js adapter
 *   node dist/bench/gpu-check.js parity [--batch 64] [--hidden 400,400]
 *   node dist/bench/gpu-check.js step [--batches 4096,16384] [--steps 20] [--warmup 3] [--max-seconds 40] [--tfjs-steps 5]
 *   node dist/bench/gpu-check.js cluster --backend NAME --run-dir DIR [tessera local flags]   (gpu-cluster.ts)
 *   node dist/bench/gpu-check.js job [--batch 4096] [--hidden 400,400]   (prints the cluster's job YAML)
 *
 * The webgpu backend is selected as everywhere else: a software adapter only with
 * TESSERA_WEBGPU_ALLOW_FALLBACK=1. Progress goes to stderr.
 */
import { releaseBackend, selectBackend } from '../src/model/backend';
import { createModel } from '../src/model/models';
import type { BatchInputs, CtrModel, ModelConfig, ModelOptions, StepResult } from '../src/model/models';
import { requestDawnAdapter } from '../src/model/webgpu/dawn';
import { webgpuDevice } from '../src/model/webgpu/webgpu-backend';
import { argList, argNum } from './bench-args';
import { randomInputs } from './bench-inputs';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';
import { runClusterSection } from './gpu-cluster';
import { runStepSection, webgpuOrReason } from './webgpu-step';

async function adapter(): Promise<Record<string, unknown>> {
  const probe = await requestDawnAdapter((id) => require(id) as unknown);
  if (!probe.ok) return { ok: false, error: probe.reason };
  const started = await webgpuOrReason();
  const l = probe.adapter.limits;
  return {
    ok: started.ok, ...probe.summary,
    backend: started.ok ? 'webgpu' : null, detail: started.ok ? started.detail : null, error: started.ok ? undefined : started.reason,
    features: ['shader-f16', 'subgroups', 'timestamp-query'].filter((f) => probe.adapter.features.has(f)),
    limits: { maxBufferSize: l.maxBufferSize, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage, maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize },
    device_created: webgpuDevice() !== undefined, node: process.version,
  };
}

/** Largest |a − b| and whether every element is within 1e-5 + 1e-5·|b|. */
function compare(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; ok: boolean } {
  let maxAbs = a.length === b.length ? 0 : Infinity;
  let ok = a.length === b.length;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    maxAbs = Math.max(maxAbs, d);
    if (!(d <= 1e-5 + 1e-5 * Math.abs(b[i]))) ok = false;
  }
  return { maxAbs, ok };
}

async function stepOn(backend: 'cpu' | 'webgpu', cfg: ModelConfig, opts: ModelOptions, params: Float32Array, inputs: BatchInputs): Promise<{ step: StepResult; probs: Float32Array; kind: string }> {
  if ((await selectBackend(undefined, backend)).name !== backend) throw new Error(`the ${backend} backend did not start`);
  const model: CtrModel = createModel(cfg, opts);
  const out = { step: await model.trainStep(params, inputs), probs: await model.predict(params, inputs), kind: model.constructor.name };
  model.dispose();
  return out;
}

async function parity(): Promise<Record<string, unknown>> {
  const started = await webgpuOrReason();
  if (!started.ok) return { ok: false, error: started.reason };
  const batch = argNum('batch', 64);
  const shape = { numFields: 26, embDim: 16, numDense: 13, hidden: argList('hidden', [400, 400]), crossLayers: 2, seed: 5 };
  const models: Record<string, unknown> = {};
  let ok = true;
  for (const kind of ['lr', 'fm', 'deepfm', 'widedeep', 'dcn'] as const) {
    const cfg: ModelConfig = { kind, ...shape };
    const params = createModel(cfg).initialDense().map((v, i) => v + 0.05 * Math.sin(i));
    const inputs = randomInputs(cfg, batch, 17);
    const want = await stepOn('cpu', cfg, {}, params, inputs);
    for (const opts of kind === 'deepfm' || kind === 'widedeep' ? [{}, { webgpuStep: 'tfjs' as const }] : [{}]) {
      const got = await stepOn('webgpu', cfg, opts, params, inputs);
      const diffs = {
        loss: compare([got.step.loss], [want.step.loss]), probs: compare(got.step.probs, want.step.probs), predict: compare(got.probs, want.probs),
        embGrad: compare(got.step.embGrad, want.step.embGrad), linearGrad: compare(got.step.linearGrad, want.step.linearGrad), denseGrad: compare(got.step.denseGrad, want.step.denseGrad),
      };
      const good = Object.values(diffs).every((d) => d.ok);
      ok &&= good;
      models[`${kind}${got.kind === 'FusedTowerModel' ? '' : opts.webgpuStep === 'tfjs' ? ' (tfjs step)' : ''}`] = {
        ok: good, step: got.kind === 'FusedTowerModel' ? 'fused' : 'tfjs', max_abs_diff: Object.fromEntries(Object.entries(diffs).map(([k, d]) => [k, d.maxAbs])),
      };
      process.stderr.write(`parity ${kind} ${got.kind}: ${good ? 'ok' : 'MISMATCH'}\n`);
    }
  }
  return { ok, batch, tolerance: '1e-5 + 1e-5·|cpu|', shape, models };
}

function job(): void {
  const hidden = argList('hidden', [400, 400]);
  const yaml = TRAIN_BENCH_JOB_YAML.replace('name: train-bench', 'name: gpu-check')
    .replace('batch_size: 1024', `batch_size: ${argNum('batch', 4096)}`)
    .replace('max_inflight_pushes: 2', 'max_inflight_pushes: 0')
    .replace('hidden: [400, 400]', `hidden: [${hidden.join(', ')}]`);
  process.stdout.write(yaml);
}

const SECTIONS: Record<string, () => Promise<Record<string, unknown>>> = { adapter, parity, step: runStepSection, cluster: runClusterSection };

async function main(): Promise<void> {
  const name = process.argv[2];
  if (name === 'job') return job();
  const section = SECTIONS[name];
  if (section === undefined) throw new Error(`usage: gpu-check.js ${[...Object.keys(SECTIONS), 'job'].join('|')} [flags]`);
  const started = Date.now();
  let out: Record<string, unknown>;
  try {
    out = await section();
  } catch (err) {
    out = { ok: false, error: String((err as Error)?.message ?? err).split('\n')[0] };
  }
  releaseBackend();
  process.stdout.write(`${JSON.stringify({ section: name, ...out, seconds: Number(((Date.now() - started) / 1000).toFixed(1)) })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`gpu-check: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
