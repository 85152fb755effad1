/**
 * Issue 21 (cost of asynchrony): boundedPushes over a real PsClient and two real PS on port 0.
 * The client allows 4 pushes in flight; the wrapper's window is what is left in flight when a
 * push call returns, so several workers together stay within one worker's budget.
 */
import { expect } from 'chai';
import type { TableSpec } from '../../src/ps/store/table-store';
import { idsFrom } from '../../src/wire/key-block';
import { boundedPushes } from '../../src/worker/job-push-window';
import { psParams } from '../../src/worker/ps-params';
import { createTestCluster, TestCluster } from '../helpers/ps';

const DIM = 8;
const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 } };
const ROWS = 2000;
const STEPS = 12;

describe('boundedPushes over a PsClient with 4 pushes in flight (issue 21)', function () {
  this.timeout(60_000);
  let c: TestCluster;
  afterEach(async () => {
    await c?.tearDown();
  });

  const ids = idsFrom(Array.from({ length: ROWS }, (_, i) => i));
  const grads = new Float32Array(ROWS * DIM).fill(-0.001);

  async function pushSteps(window: () => number, after: (inflight: number) => void) {
    c = await createTestCluster(2, { maxInflightPushes: 4 });
    await c.client.admin.createTable(SPEC);
    const params = boundedPushes(psParams(c.client), window);
    const before = await params.pull('emb', ids, DIM);
    for (let s = 0; s < STEPS; s++) {
      await params.pushStep([{ table: 'emb', ids, grads }]);
      after(params.inflightPushes ?? -1);
    }
    await params.flush();
    return { before, after: await params.pull('emb', ids, DIM, { readOnly: true }) };
  }

  it('window 0: no push is in flight when pushStep returns, and every push is applied once', async () => {
    const seen: number[] = [];
    const { before, after } = await pushSteps(() => 0, (n) => seen.push(n));
    expect(seen).to.deep.equal(new Array(STEPS).fill(0));
    // Every push was applied once: sgd at lr 1 moved each weight by STEPS × 0.001.
    for (let i = 0; i < ROWS * DIM; i += 97) expect(after[i] - before[i]).to.be.closeTo(STEPS * 0.001, 1e-5);
  });

  it('window 1: at most one push is left in flight; the window is read at every push', async () => {
    const seen: number[] = [];
    let window = 1;
    await pushSteps(() => window, (n) => {
      seen.push(n);
      if (seen.length === STEPS / 2) window = 0;
    });
    expect(Math.max(...seen)).to.be.at.most(1);
    expect(seen.slice(STEPS / 2)).to.deep.equal(new Array(STEPS / 2).fill(0));
  });
});
