/** EtcdJobStore over a real etcd: chief writes fenced by the election key, guarded progress commits, watch. */
import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { Assignment, JobState, Progress } from '../../src/control/job-types';
import { LeaderElection } from '../../src/membership/leader';
import { etcdClientPerTest } from '../helpers/etcd';
import { EventLog } from '../helpers/etcd-fixtures';

const state = (epoch = 0): JobState => ({
  epoch, epochs: 2, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date().toISOString(), evals: [],
  shards: [{ id: 0, path: '/d', start: 0, end: 100, gzip: false }, { id: 1, path: '/d', start: 100, end: 200, gzip: false }],
});
const progress = (a: Assignment, rows: number, done = false): Progress => ({ shard: a.shard, epoch: a.epoch, next: rows, rows, steps: 1, done, loss: 0.5, worker: a.worker });

describe('EtcdJobStore (real etcd)', function () {
  this.timeout(30_000);
  const etcd = etcdClientPerTest();
  let seq = 0;

  it('creates the state once, and a worker commits progress only while it holds the assignment', async () => {
    const job = `js-${++seq}`;
    const chief = new EtcdJobStore({ client: etcd.client, job, logger: silentLogger() });
    const worker = new EtcdJobStore({ client: etcd.client, job, logger: silentLogger() });
    expect(await chief.createState(state())).to.equal(true);
    expect(await chief.createState(state(1))).to.equal(false);
    const a: Assignment = { shard: 1, epoch: 0, worker: 'w0', incarnation: 'i1' };
    expect(await chief.assign(a)).to.equal(true);
    expect(await chief.assign({ ...a, worker: 'w1' })).to.equal(false); // one holder per shard
    expect(await worker.commitProgress(a, progress(a, 10))).to.equal(true);
    expect(await worker.commitProgress({ ...a, incarnation: 'i0' }, progress(a, 99))).to.equal(false); // a stale incarnation
    expect(await chief.revoke(a)).to.equal(true);
    expect(await worker.commitProgress(a, progress(a, 20))).to.equal(false);
    const snap = await chief.snapshot();
    expect(snap.state?.epoch).to.equal(0);
    expect(snap.assignments.size).to.equal(0);
    expect(snap.progress.get(1)?.rows).to.equal(10);
  });

  /** A store of a new job with its state created, and a watch counting the changes after it. */
  async function watchedStore() {
    const store = new EtcdJobStore({ client: etcd.client, job: `js-${++seq}`, logger: silentLogger() });
    await store.createState(state());
    const changes = new EventLog<number>();
    let n = 0;
    const w = await store.watch(() => changes.push(++n));
    return { store, changes, w };
  }

  it('startEpoch clears assignments and progress with the state write; watch reports the changes', async () => {
    const { store, changes, w } = await watchedStore();
    const a: Assignment = { shard: 0, epoch: 0, worker: 'w0', incarnation: 'i1' };
    await store.assign(a);
    await store.commitProgress(a, progress(a, 100, true));
    await changes.waitFor((k) => k >= 2, 5_000, 'two watch events');
    await store.startEpoch(state(1));
    await changes.waitFor((k) => k >= 3, 5_000, 'the epoch event');
    await w.stop();
    const snap = await store.snapshot();
    expect(snap.state?.epoch).to.equal(1);
    expect(snap.assignments.size + snap.progress.size).to.equal(0);
  });

  // Issue 23: the table incarnations the chief publishes, the faults workers report, a failed job.
  it('stores the tables record, worker fault reports (watched) and a failed state with its reason', async () => {
    const { store, changes, w } = await watchedStore();
    await store.putTables({ generation: 2, mapVersion: 5, ps: [{ id: 0, member: 'm0', tables: { emb: 77 } }] });
    await store.reportFault({ worker: 'w0', kind: 'table', ps: '127.0.0.1:1', generation: 2, mapVersion: 5, message: 'table "emb" does not exist', at: 'now' });
    await changes.waitFor((k) => k >= 2, 5_000, 'the tables and fault events');
    await w.stop();
    let snap = await store.snapshot();
    expect(snap.tables).to.deep.equal({ generation: 2, mapVersion: 5, ps: [{ id: 0, member: 'm0', tables: { emb: 77 } }] });
    expect(snap.faults.get('w0')?.message).to.equal('table "emb" does not exist');
    await store.deleteFaults(['w0']);
    await store.putState({ ...state(), phase: 'failed', failure: { code: ERROR_CODES.CONFIG, reason: 'no rows', at: 'now' } });
    snap = await store.snapshot();
    expect(snap.faults.size).to.equal(0);
    expect(snap.state?.failure).to.deep.equal({ code: ERROR_CODES.CONFIG, reason: 'no rows', at: 'now' });
  });

  it('fences a chief whose election key is gone: its writes fail with NOT_LEADER', async () => {
    const job = `js-${++seq}`;
    const election = new LeaderElection({ client: etcd.client, job, logger: silentLogger(), ttlS: 5 });
    const handle = await election.campaign('chief-a', 'a');
    const key = await handle.key();
    expect(key).to.match(/^election\/chief\/[0-9a-f]+$/);
    const store = new EtcdJobStore({ client: etcd.client, job, logger: silentLogger(), leaderKey: key });
    await store.createState(state());
    await store.putState(state());
    await handle.resign(); // the key goes with the lease
    const err = await store.putState(state(1)).then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(TesseraError);
    expect((err as TesseraError).code).to.equal(ERROR_CODES.NOT_LEADER);
    const err2 = await store.assign({ shard: 0, epoch: 0, worker: 'w', incarnation: 'i' }).then(() => null, (e: unknown) => e);
    expect((err2 as TesseraError).code).to.equal(ERROR_CODES.NOT_LEADER);
    expect((await new EtcdJobStore({ client: etcd.client, job, logger: silentLogger() }).snapshot()).state?.epoch).to.equal(0);
  });
});
