import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { PsNode } from '../../src/ps/ps-node';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-store';
import { planShardMap } from '../../src/sharding/shard-map';
import { PsClient } from '../../src/client/ps-client';
import { createLogSink } from '../helpers/log-sink';

const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 11 };

function nodeWithTable(): PsNode {
  const node = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger() });
  node.createTable(SPEC);
  node.setShardMap(1, 4096, null); // what the chief installs on a (re)started PS
  return node;
}

describe('PsClient rides out a PS restart', function () {
  this.timeout(30_000);
  let server: PsServer | undefined;
  let client: PsClient | undefined;
  afterEach(async () => {
    client?.close();
    await server?.stop();
  });

  it('retries pulls and pushes with backoff while the PS is down, then completes against the new one', async () => {
    server = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), node: nodeWithTable() });
    const port = server.port;
    const sink = createLogSink();
    client = new PsClient({ shardMap: planShardMap([{ id: 0, addr: server.addr }]), logger: sink.logger, retryDeadlineMs: 20_000, callTimeoutMs: 2_000 });
    const ids = new Uint32Array([1, 0, 2, 0]);
    const before = await client.data.pull('emb', ids, 4);

    await server.stop();
    server = undefined;
    // Both calls start while nothing listens on the port; they must keep retrying, not fail.
    const pull = client.data.pull('emb', ids, 4);
    const push = client.data.push('emb', ids, new Float32Array(8).fill(1)).then(() => client!.data.flush());
    let settled = false;
    void Promise.allSettled([pull, push]).then(() => { settled = true; });
    // Await the client's own retry log lines, rather than sleeping. The push waits for the
    // counting pull issued before it (src/client/counting-pulls.ts, issue 17), so only the pull
    // retries while the PS is down.
    const retrying = (what: string) => (l: Record<string, unknown>) => l.msg === `waiting for ${what}`;
    await sink.waitFor(retrying(`pull emb from 127.0.0.1:${port}`), 2);
    expect(settled).to.equal(false);

    server = await startPsServer({ port, maxRequestBytes: 1 << 20, logger: silentLogger(), node: nodeWithTable() });
    const during = await pull;
    await push;
    // Rows are re-created by the deterministic initializer, so the new PS serves the same values:
    // the push, behind the pull, cannot land first.
    expect(Array.from(during)).to.deep.equal(Array.from(before));
    const after = await client.data.pull('emb', ids, 4);
    for (let i = 0; i < after.length; i++) expect(after[i]).to.be.closeTo(before[i] - 1, 1e-6);
  });
});
