/**
 * The `step` section of the GPU check: DeepFM's trainStep throughput on the webgpu backend at the
 * Criteo shape (26 fields × 16, 13 numeric features, MLP 429→400→400→1 or `--hidden`), per batch size:
 * - `fused`: Tessera's fused WGSL step, one step at a time (each awaited before the next);
 * - `pipelined`: the same with two steps in flight, the next one's upload overlapping the
 *   current one's compute (what the step allows a caller to do);
 * - `tfjs`: the step op by op through tfjs-backend-webgpu (the path before issue #20), at the
 *   first batch size only, for a few steps;
 * and the GPU programs each dispatches per step.
 *
 * Each variant runs `--warmup` untimed steps (kernel compilation, first allocations), then
 * `--steps` timed steps or until `--max-seconds`, whichever comes first. Inputs are fixed random
 * batches, two of them alternating; the parameters are not updated (which does not change the
 * cost of a step). The dense vector is the same object throughout, as between a worker's dense
 * syncs, so it is uploaded once.
 */
import { createModel } from '../src/model/models';
import type { BatchInputs, CtrModel, ModelConfig, ModelOptions } from '../src/model/models';
import { countDispatches } from '../src/model/webgpu/dispatch-counter';
import { selectBackend } from '../src/model/backend';
import { argList, argNum } from './bench-args';
import { randomInputs } from './bench-inputs';

/** The Criteo shape; `--hidden` sets the MLP (default 400,400). */
const SHAPE: Omit<ModelConfig, 'kind' | 'hidden'> = { numFields: 26, embDim: 16, numDense: 13, seed: 1 };
/** Issue #20's target at batch 4,096 on an H200-class GPU. */
const TARGET_4096 = 600_000;

/** Selects webgpu (a software adapter only with TESSERA_WEBGPU_ALLOW_FALLBACK=1); why not, when it does not start. */
export async function webgpuOrReason(): Promise<{ ok: true; detail: string } | { ok: false; reason: string }> {
  const got = await selectBackend(undefined, 'webgpu');
  if (got.name === 'webgpu') return { ok: true, detail: got.detail };
  return { ok: false, reason: got.skipped.find((s) => s.backend === 'webgpu')?.reason ?? 'unknown' };
}

interface Rate { samplesPerS: number; msPerStep: number; steps: number }

async function timed(batch: number, steps: number, maxS: number, depth: 1 | 2, step: (i: number) => Promise<unknown>): Promise<Rate> {
  const t0 = performance.now();
  let done = 0;
  let inflight: Promise<unknown> | undefined;
  while (done < steps && (performance.now() - t0) / 1000 < maxS) {
    const next = step(done);
    if (depth === 1) await next;
    else { if (inflight) await inflight; inflight = next; }
    done++;
  }
  if (inflight) await inflight;
  const s = (performance.now() - t0) / 1000;
  return { samplesPerS: Math.round((done * batch) / s), msPerStep: Number(((s * 1000) / done).toFixed(3)), steps: done };
}

async function variant(opts: ModelOptions, batch: number, depth: 1 | 2, steps: number, warmup: number, maxS: number): Promise<Rate & { dispatches: number }> {
  const model: CtrModel = createModel({ kind: 'deepfm', ...SHAPE, hidden: argList('hidden', [400, 400]) }, opts);
  const params = model.initialDense();
  const inputs: BatchInputs[] = [randomInputs(model.config, batch, 1), randomInputs(model.config, batch, 2)];
  try {
    for (let i = 0; i < warmup; i++) await model.trainStep(params, inputs[i % 2]);
    const { dispatches } = await countDispatches(() => model.trainStep(params, inputs[0]));
    const rate = await timed(batch, steps, maxS, depth, (i) => model.trainStep(params, inputs[i % 2]));
    return { ...rate, dispatches };
  } finally {
    model.dispose();
  }
}

/** The section's JSON (see the file header). */
export async function runStepSection(): Promise<Record<string, unknown>> {
  const started = await webgpuOrReason();
  if (!started.ok) return { ok: false, error: started.reason };
  const batches = argList('batches', [4096, 16384]);
  const steps = argNum('steps', 20);
  const warmup = argNum('warmup', 3);
  const maxS = argNum('max-seconds', 40);
  const tfjsSteps = argNum('tfjs-steps', 5);
  const results: Array<Record<string, unknown>> = [];
  for (const [i, batch] of batches.entries()) {
    const fused = await variant({}, batch, 1, steps, warmup, maxS);
    const pipelined = await variant({}, batch, 2, steps, 1, maxS);
    const tfjs = i === 0 ? await variant({ webgpuStep: 'tfjs' }, batch, 1, tfjsSteps, 1, maxS) : undefined;
    process.stderr.write(`step batch ${batch}: fused ${fused.samplesPerS}/s (${fused.msPerStep} ms), pipelined ${pipelined.samplesPerS}/s`
      + `${tfjs ? `, tfjs ${tfjs.samplesPerS}/s (${tfjs.msPerStep} ms)` : ''}; dispatches fused ${fused.dispatches}${tfjs ? ` tfjs ${tfjs.dispatches}` : ''}\n`);
    results.push({
      batch,
      fused_samples_per_s: fused.samplesPerS, fused_ms_per_step: fused.msPerStep, fused_steps: fused.steps,
      pipelined_samples_per_s: pipelined.samplesPerS, pipelined_ms_per_step: pipelined.msPerStep,
      ...(tfjs ? { tfjs_samples_per_s: tfjs.samplesPerS, tfjs_ms_per_step: tfjs.msPerStep, tfjs_steps: tfjs.steps, tfjs_dispatches: tfjs.dispatches } : {}),
      fused_dispatches: fused.dispatches,
    });
  }
  const at4096 = results.find((r) => r.batch === 4096);
  const best4096 = at4096 ? Math.max(at4096.fused_samples_per_s as number, at4096.pipelined_samples_per_s as number) : null;
  return {
    ok: true, detail: started.detail, model: `deepfm F=26 D=16 dense=13 mlp 429-${argList('hidden', [400, 400]).join('-')}-1`, results,
    target_4096_samples_per_s: TARGET_4096, meets_target_4096: best4096 === null ? null : best4096 >= TARGET_4096,
  };
}
