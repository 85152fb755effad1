/**
 * Child process for the webgpu backend tests. `absent`: selects with `prefer=webgpu` while the
 * Dawn package looks uninstalled, and prints the backend chosen and the reason webgpu was skipped.
 * `step`: selects webgpu (software adapters allowed), runs one fused DeepFM step, releases the
 * backend and prints the backend detail and the loss. Either way it returns without calling
 * `process.exit`, so the test also sees whether anything keeps the process alive.
 */
import './webgpu';
import { createLogSink } from './log-sink';
import { createModel } from '../../src/model/registry';
import { releaseBackend, selectBackend } from '../../src/model/backend';

async function absent(): Promise<Record<string, unknown>> {
  const sink = createLogSink('info');
  const requireModule = (id: string): unknown => {
    if (id.startsWith('webgpu/')) throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    return require(id) as unknown;
  };
  const choice = await selectBackend(sink.logger, 'webgpu', { requireModule });
  const chosen = sink.lines.find((l) => l.msg === `tfjs backend: ${choice.name}`);
  const skipped = chosen?.skipped as Array<{ backend: string; reason: string }>;
  return { name: choice.name, reason: skipped.find((s) => s.backend === 'webgpu')?.reason, warned: sink.lines.some((l) => l.msg === 'preferred tfjs backend unavailable') };
}

async function step(): Promise<Record<string, unknown>> {
  const choice = await selectBackend(undefined, 'webgpu', { allowFallbackAdapter: true });
  const model = createModel({ kind: 'deepfm', numFields: 3, embDim: 2, numDense: 2, hidden: [4] });
  const b = 4;
  const r = await model.trainStep(model.initialDense(), {
    batch: b, emb: new Float32Array(b * 6).fill(0.1), linear: new Float32Array(b * 3).fill(0.2), dense: new Float32Array(b * 2).fill(0.3), labels: Float32Array.of(0, 1, 0, 1),
  });
  releaseBackend();
  return { name: choice.name, detail: choice.detail, model: model.constructor.name, loss: r.loss };
}

(process.argv[2] === 'absent' ? absent() : step()).then(
  (out) => { process.stdout.write(`${JSON.stringify(out)}\n`); },
  (err: unknown) => { process.stderr.write(`${String((err as Error).stack ?? err)}\n`); process.exitCode = 1; },
);
