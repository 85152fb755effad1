/**
 * Issue 17 (the failover test's ledger): a push request a PS applied while its answer was still on
 * the way when the client closed is counted as unanswered in the client's "closed the PS
 * connections" line, not lost from the count. Without it a job's ledger (pushes acknowledged to
 * the workers = pushes the PS applied) came out negative whenever a worker closed its client with
 * pushes in flight. Real PS server on port 0; a real TCP proxy holds its answers back.
 */
import { expect } from 'chai';
import { PsClient } from '../../src/client/ps-client';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { planShardMap } from '../../src/sharding/shard-map';
import { psZeroSteps } from '../helpers/held-push';
import { createLogSink } from '../helpers/log-sink';
import { TcpProxy } from '../helpers/tcp-proxy';
import { until } from '../helpers/until';

const DIM = 8;
const EMB: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 0.1 }, seed: 1 };

describe('a push applied but unanswered when the client closes is counted unanswered (issue 17)', function () {
  this.timeout(30_000);
  let ps: PsServer | undefined;
  let proxy: TcpProxy | undefined;

  afterEach(async () => {
    await proxy?.close();
    await ps?.stop();
    proxy = ps = undefined;
  });

  it('logs pushesAcked and pushesUnanswered on close: together they cover every push the PS applied', async () => {
    ps = await startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger: silentLogger() });
    const front = (proxy = await TcpProxy.start(ps.addr));
    const map = planShardMap([{ id: 0, addr: front.addr }]);
    const { dense, step } = psZeroSteps(map, DIM, 4);
    const sink = createLogSink('info');
    const client = new PsClient({ shardMap: map, logger: sink.logger });
    await client.admin.installShardMap();
    for (const t of [EMB, dense]) await client.admin.createTable(t);

    await client.data.pushStep(step(1).sparse, step(1).dense);
    await client.data.flush(); // step 1 answered: 2 pushes acknowledged
    front.holdAnswers();
    await client.data.pushStep(step(2).sparse, step(2).dense);
    await until(() => ps!.node.stats().counters.pushes === 4, 'the PS to apply step 2');
    client.close(); // step 2's answers are still held: the calls are cancelled

    await sink.waitFor((l) => l.msg === 'closed the PS connections');
    const closed = sink.lines.find((l) => l.msg === 'closed the PS connections')!;
    expect(closed.pushesAcked, 'step 1').to.equal(2);
    expect(closed.pushesUnanswered, 'step 2: applied, its answers never counted').to.equal(2);
    expect(Number(closed.pushesAcked) + Number(closed.pushesUnanswered)).to.equal(ps.node.stats().counters.pushes);
  });
});
