/**
 * Selection of the webgpu backend (issue #20): a fallback (software) adapter is refused unless
 * allowed, with the reason logged; an allowed one is selected and named; re-selecting keeps the
 * device; releasing destroys it; an absent Dawn package is reported as such; and a process that
 * stepped on the GPU exits by itself.
 */
import * as path from 'node:path';
import { expect } from 'chai';
import { releaseBackend, selectBackend } from '../../../../src/model/backend';
import { requestDawnAdapter } from '../../../../src/model/webgpu/dawn';
import { webgpuDevice } from '../../../../src/model/webgpu/webgpu-backend';
import { createLogSink } from '../../../helpers/log-sink';
import { spawnNode } from '../../../helpers/spawn';
import { useWebgpu } from '../../../helpers/webgpu';

const CHILD = path.resolve(__dirname, '../../../helpers/webgpu-child.js');

async function child(mode: 'absent' | 'step'): Promise<Record<string, unknown>> {
  const c = spawnNode(CHILD, [mode]);
  // Awaiting the exit, not killing the child, is the check that nothing holds the process open.
  const exit = await c.exited;
  expect(exit, c.lines.join('\n')).to.deep.equal({ code: 0, signal: null });
  return JSON.parse(c.stdout[c.stdout.length - 1]) as Record<string, unknown>;
}

type Skipped = Array<{ backend: string; reason: string }>;

describe('the webgpu backend (issue #20)', function () {
  this.timeout(120_000);
  useWebgpu();

  it('refuses a fallback adapter unless allowed, naming the variable that allows it', async () => {
    const probe = await requestDawnAdapter((id) => require(id) as unknown);
    if (!probe.ok) throw new Error(probe.reason);
    const sink = createLogSink('info');
    const choice = await selectBackend(sink.logger, 'webgpu', { allowFallbackAdapter: false });
    if (!probe.summary.fallback) { // a real GPU: nothing to refuse
      expect(choice.name).to.equal('webgpu');
      return;
    }
    expect(choice.name).to.equal('wasm');
    const line = sink.lines.find((l) => l.msg === 'preferred tfjs backend unavailable');
    expect(line?.reason).to.match(/fallback adapter\]? refused: .*TESSERA_WEBGPU_ALLOW_FALLBACK=1/);
    const skipped = sink.lines.find((l) => l.msg === 'tfjs backend: wasm')?.skipped as Skipped;
    expect(skipped.find((s) => s.backend === 'webgpu')?.reason).to.equal(line?.reason);
  });

  it('selects an allowed adapter, names it, and keeps its device when selected again', async () => {
    const a = await selectBackend(undefined, 'webgpu', { allowFallbackAdapter: true });
    expect(a.name).to.equal('webgpu');
    expect(a.detail).to.match(/^@tensorflow\/tfjs-backend-webgpu on Dawn \(Vulkan\): \S+/);
    const device = webgpuDevice();
    expect(device).to.not.equal(undefined);
    expect(await selectBackend(undefined, 'webgpu', { allowFallbackAdapter: true })).to.deep.equal(a);
    expect(webgpuDevice()).to.equal(device);
  });

  it('releaseBackend destroys the device; the next selection starts a new one', async () => {
    const before = webgpuDevice();
    releaseBackend();
    expect(webgpuDevice()).to.equal(undefined);
    expect((await selectBackend(undefined, 'webgpu', { allowFallbackAdapter: true })).name).to.equal('webgpu');
    expect(webgpuDevice()).to.not.equal(undefined).and.not.equal(before);
  });

  it('reports an absent Dawn package and falls through with a warning', async () => {
    const out = await child('absent');
    expect(out).to.deep.equal({ name: 'wasm', reason: 'webgpu: not installed', warned: true });
  });

  it('a process that stepped on the GPU exits by itself once the backend is released', async () => {
    const out = await child('step');
    expect(out.name).to.equal('webgpu');
    expect(out.model).to.equal('FusedTowerModel');
    expect(out.loss).to.be.a('number').and.above(0);
  });
});
