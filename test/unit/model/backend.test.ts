/**
 * tfjs backend selection: the default order, the `prefer` override, idempotence, the reasons
 * logged for skipped backends, and that the wasm backend really computes (same step as cpu).
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { createModel, selectBackend } from '../../../src/model/models';
import { logSink, mismatches, randomBatch } from './helpers';

/** Whether a tfjs-node build is installed here (it is not in CI; the GPU image has one). */
function hasTfjsNode(): boolean {
  for (const id of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try { require.resolve(id); return true; } catch { /* absent */ }
  }
  return false;
}

type Skipped = Array<{ backend: string; reason: string }>;

describe('selectBackend', function () {
  this.timeout(20000);
  let previous: string | null = null;
  before(() => { previous = tf.engine().backendName ?? null; });
  after(async () => { if (previous !== null) await tf.setBackend(previous); });

  it('picks wasm when tfjs-node is absent and no GPU adapter is allowed (here), logging why tensorflow and webgpu were skipped', async () => {
    const { logger, lines } = logSink();
    const choice = await selectBackend(logger);
    if (hasTfjsNode()) { // an image with tfjs-node: then tensorflow must win
      expect(choice.name).to.equal('tensorflow');
      return;
    }
    if (choice.name === 'webgpu') { // a GPU host; a software adapter is never taken by default
      expect(choice.detail).to.not.match(/fallback adapter/);
      return;
    }
    expect(choice.name).to.equal('wasm');
    expect(choice.detail).to.match(/tfjs-backend-wasm \(simd=true, threads=\d+\)/);
    expect(tf.getBackend()).to.equal('wasm');
    const line = lines.find((l) => l.msg === 'tfjs backend: wasm');
    expect(line?.backend).to.equal('wasm');
    const skipped = line?.skipped as Skipped;
    const tfReason = skipped.find((s) => s.backend === 'tensorflow')?.reason;
    expect(tfReason).to.equal('@tensorflow/tfjs-node-gpu: not installed; @tensorflow/tfjs-node: not installed');
    // Not installed, no Vulkan driver, or a refused software adapter (issue #20): said, not silent.
    expect(skipped.find((s) => s.backend === 'webgpu')?.reason).to.match(/^webgpu: |refused: a fallback/);
    expect(skipped.find((s) => s.backend === 'cpu')?.reason).to.match(/not needed/);
  });

  it("prefer 'cpu' picks cpu; repeating the call is a cheap no-op", async () => {
    const { logger, lines } = logSink();
    const a = await selectBackend(logger, 'cpu');
    const tensors = tf.memory().numTensors;
    const b = await selectBackend(logger, 'cpu');
    expect(a).to.deep.include({ name: 'cpu', detail: '@tensorflow/tfjs-backend-cpu (plain JS)' });
    expect(a.skipped).to.deep.equal(lines[0].skipped);
    expect(b).to.deep.equal(a);
    expect(tf.getBackend()).to.equal('cpu');
    expect(tf.memory().numTensors).to.equal(tensors);
    const skipped = lines[0].skipped as Skipped;
    expect(skipped.map((s) => s.reason)).to.deep.equal(['not tried: prefer=cpu', 'not tried: prefer=cpu', 'not tried: prefer=cpu']);
  });

  it('a preferred backend that cannot start falls through, with a warning', async () => {
    const { logger, lines } = logSink();
    const requireModule = (id: string): unknown => {
      if (id.startsWith('@tensorflow/tfjs-node')) throw new Error(`Cannot find module '${id}'`);
      return require(id) as unknown;
    };
    expect((await selectBackend(logger, 'tensorflow', { requireModule })).name).to.equal('wasm');
    expect(lines.find((l) => l.level === 40)?.msg).to.equal('preferred tfjs backend unavailable');
  });

  it('explains a tfjs-node that loads without registering, and a wasm package that fails', async function () {
    // Only meaningful while no real tfjs-node has registered 'tensorflow' in this process.
    if (tf.findBackendFactory('tensorflow') !== null) this.skip();
    const { logger, lines } = logSink();
    const requireModule = (id: string): unknown => {
      if (id === '@tensorflow/tfjs-node') return {}; // e.g. built against another tfjs-core copy
      if (id === '@tensorflow/tfjs-backend-wasm') throw new Error('boom');
      const err = new Error(`Cannot find module '${id}'`) as Error & { code: string };
      err.code = 'MODULE_NOT_FOUND';
      throw err;
    };
    expect((await selectBackend(logger, undefined, { requireModule })).name).to.equal('cpu');
    const skipped = lines[0].skipped as Skipped;
    expect(skipped[0].reason).to.equal('@tensorflow/tfjs-node-gpu: not installed; '
      + "@tensorflow/tfjs-node: loaded but did not register the 'tensorflow' backend with this @tensorflow/tfjs");
    expect(skipped.find((x) => x.backend === 'wasm')?.reason).to.equal('@tensorflow/tfjs-backend-wasm: failed to load (boom)');
  });

  it('rejects an unknown preference, naming the variable', async () => {
    let err: unknown;
    try { await selectBackend(undefined, 'webgl'); } catch (e) { err = e; }
    expect(String(err)).to.match(/TESSERA_TF_BACKEND: unknown backend 'webgl'/);
    expect((err as { code: string }).code).to.equal('TESSERA_ERR_CONFIG');
  });

  it('wasm computes the same DeepFM step as cpu', async () => {
    const model = createModel({ kind: 'deepfm', numFields: 5, embDim: 4, numDense: 3, hidden: [16, 8] });
    const params = model.initialDense();
    const inputs = randomBatch(model.config, 32, 4);
    await selectBackend(undefined, 'cpu');
    const cpu = await model.trainStep(params, inputs);
    await selectBackend(undefined, 'wasm');
    const wasm = await model.trainStep(params, inputs);
    expect(wasm.loss).to.be.closeTo(cpu.loss, 1e-5);
    for (const k of ['probs', 'embGrad', 'linearGrad', 'denseGrad'] as const) {
      expect(mismatches(wasm[k], cpu[k], 1e-6, 1e-4), k).to.deep.equal([]);
    }
  });
});
