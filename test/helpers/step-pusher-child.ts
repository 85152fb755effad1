/**
 * A worker process for test/multiprocess/step-cut-processes.test.ts (issue 15, ADR 0040): it
 * registers as worker ID in etcd, then trains shard SHARD forever through the real data client
 * (StepNumbering, `pushStep`, every request tagged with its step and StepPositions): step s sends
 * gradient 1 to each of its ROWS (one per PS, SGD at lr 1 moves each by -1) and sets the shard's
 * position to `{ next: 100 s, rows: 10 s, steps: s }` before the push. After each answered
 * step it commits that position (when the shard is assigned to it) every third step and prints
 * `step s`. It prints `registered INCARNATION` first.
 *
 * argv: ETCD_URL JOB ID SHARD PS_ADDRS(comma-separated) ROWS(comma-separated ids, hi 0)
 */
import { PsClient } from '../../src/client/ps-client';
import { StepNumbering } from '../../src/client/step-numbering';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import { StepPositions } from '../../src/control/step-positions';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { planShardMap } from '../../src/sharding/shard-map';

/** The dimension of the test's table. */
export const PUSHER_DIM = 4;

async function main(): Promise<void> {
  const [etcdUrl, job, id, shardArg, addrs, rowsArg] = process.argv.slice(2);
  const shard = Number(shardArg);
  const logger = silentLogger();
  const etcd = createEtcdClient(etcdUrl);
  const reg = await new EtcdMembership({ client: etcd, job, logger }).register('worker', id, `${id}:1`);
  const store = new EtcdJobStore({ client: etcd, job, logger });
  const positions = new StepPositions({ worker: id, incarnation: () => reg.incarnation });
  const steps = new StepNumbering(() => positions.encode());
  const map = planShardMap(addrs.split(',').map((addr, i) => ({ id: i, addr })));
  const client = new PsClient({ shardMap: map, logger, steps, maxInflightPushes: 0 });
  const ids = new Uint32Array(rowsArg.split(',').flatMap((r) => [Number(r), 0]));
  const grads = new Float32Array((ids.length / 2) * PUSHER_DIM).fill(1);
  process.stdout.write(`registered ${reg.incarnation}\n`);
  for (let s = 1; ; s++) {
    const at = { shard, epoch: 0, next: 100 * s, rows: 10 * s, steps: s };
    positions.set(at);
    await client.data.pushStep([{ table: 'emb', ids, grads }]);
    if (s % 3 === 0) await store.commitProgress({ shard, epoch: 0, worker: id, incarnation: reg.incarnation }, { ...at, done: false, loss: null, worker: id });
    process.stdout.write(`step ${s}\n`);
  }
}

// Run as a child only: the test imports PUSHER_DIM from here.
if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
