/**
 * The checkpoint barrier over a real etcd: the chief cuts only after every live worker settled
 * (pushes applied, position committed) and acknowledged; workers stay paused until the cut is
 * taken; the pointer names the checkpoint afterwards.
 */
import { expect } from 'chai';
import type { Etcd3 } from 'etcd3';
import { silentLogger } from '../../src/common/logger';
import { Signal } from '../../src/common/signal';
import { Checkpointer, CheckpointBackend, CheckpointJob } from '../../src/chief/checkpointer';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { JobState } from '../../src/control/job-types';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { LeaderElection } from '../../src/membership/leader';
import { BarrierGate } from '../../src/worker/barrier-gate';
import { etcdClientPerTest } from '../helpers/etcd';

const state: JobState = {
  epoch: 0, epochs: 1, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date().toISOString(), evals: [],
  shards: [{ id: 0, path: '/d', start: 0, end: 10, gzip: false }],
};

/** Two registered workers behind barrier gates, an elected chief's store, and a wake signal. */
interface Fixture {
  membership: EtcdMembership;
  chiefStore: EtcdJobStore;
  gates: BarrierGate[];
  wake: Signal;
  close(): Promise<void>;
}

async function fixture(client: Etcd3, job: string): Promise<Fixture> {
  const log = silentLogger();
  const membership = new EtcdMembership({ client, job, logger: log });
  const regs = await Promise.all(['w0', 'w1'].map((id) => membership.register('worker', id, `${id}:1`)));
  const handle = await new LeaderElection({ client, job, logger: log }).campaign('chief', 'c');
  const chiefStore = new EtcdJobStore({ client, job, logger: log, leaderKey: await handle.key() });
  await chiefStore.createState(state);
  const gates = regs.map((r) => new BarrierGate({ store: new EtcdJobStore({ client, job, logger: log }), worker: r.id, incarnation: () => r.incarnation, logger: log }));
  await Promise.all(gates.map((g) => g.start()));
  const wake = new Signal();
  const w = await chiefStore.watch(() => wake.notify());
  return {
    membership, chiefStore, gates, wake,
    close: async () => {
      await w.stop();
      for (const g of gates) await g.stop();
      await handle.resign();
      await membership.close();
    },
  };
}

/** Each worker notices the pause at its next step boundary: settle, ack, wait; `events` records the order. */
async function workersPause(gates: BarrierGate[], events: string[]): Promise<void> {
  await Promise.all(gates.map(async (g, i) => {
    while (!g.pauseRequested) await new Promise((r) => setImmediate(r));
    const paused = await g.holdIfPaused(async () => { events.push(`settle w${i}`); });
    events.push(`resumed w${i}`);
    expect(paused).to.be.at.least(0);
  }));
}

/** The cut came after both workers settled and before either resumed. */
function expectCutWhilePaused(events: string[]): void {
  expect(events.indexOf('cut')).to.be.greaterThan(Math.max(events.indexOf('settle w0'), events.indexOf('settle w1')));
  expect(events.indexOf('cut')).to.be.lessThan(Math.min(events.indexOf('resumed w0'), events.indexOf('resumed w1')));
}

describe('checkpoint barrier (real etcd)', function () {
  this.timeout(30_000);
  const etcd = etcdClientPerTest();

  it('cuts after every worker settled and acknowledged, and holds them until the cut is taken', async () => {
    const f = await fixture(etcd.client, 'barrier-1');
    const events: string[] = [];
    try {
      let saved: CheckpointJob | undefined;
      const backend: CheckpointBackend = {
        newId: () => 'ckpt-1',
        cut: async () => { events.push('cut'); },
        finish: async (_id, _kind, _base, job) => { saved = job; events.push('finish'); return { bytes: 1 }; },
        collect: async () => undefined,
      };
      const ck = new Checkpointer({ store: f.chiefStore, membership: f.membership, backend, root: '/ckpt', spec: { yaml: 'x', fingerprint: 'f' }, logger: silentLogger() });
      const taking = ck.take(f.wake);
      await workersPause(f.gates, events);
      const out = await taking;
      const pointer = await f.chiefStore.checkpointPointer();
      expectCutWhilePaused(events);
      expect(out).to.include({ id: 'ckpt-1', kind: 'full' });
      expect(saved?.state.epoch).to.equal(0);
      expect(pointer?.id).to.equal('ckpt-1');
    } finally {
      await f.close();
    }
  });

  it('cutOnly (a delta\'s cut) pauses every worker the same way and reports the pause (issue 15)', async () => {
    const f = await fixture(etcd.client, 'barrier-delta');
    const events: string[] = [];
    try {
      const backend: CheckpointBackend = { newId: () => 'unused', cut: async () => undefined, finish: async () => ({ bytes: 0 }), collect: async () => undefined };
      const ck = new Checkpointer({ store: f.chiefStore, membership: f.membership, backend, root: '/ckpt', spec: { yaml: 'x', fingerprint: 'f' }, logger: silentLogger() });
      const cutting = ck.cutOnly('delta-1', f.wake, async () => { events.push('cut'); });
      await workersPause(f.gates, events);
      const out = await cutting;
      expectCutWhilePaused(events);
      expect(out.pauseMs).to.be.at.least(0);
      expect(out).to.include({ step: 0, samples: 0 });
      expect((await f.chiefStore.barrier())?.phase, 'barrier lowered').to.equal('resume');
    } finally {
      await f.close();
    }
  });
});
