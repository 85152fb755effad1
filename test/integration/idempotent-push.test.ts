import { expect } from 'chai';
import { EventEmitter, once } from 'node:events';
import { PsClient } from '../../src/client/ps-client';
import { silentLogger } from '../../src/common/logger';
import { createMetrics } from '../../src/metrics/registry';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { DenseTable } from '../../src/ps/store/dense-table';
import { EmbeddingTable } from '../../src/ps/store/embedding-table';
import type { TableSpec } from '../../src/ps/store/table-store';
import { planShardMap } from '../../src/sharding/shard-map';
import { DEFAULT_MAX_REQUEST_BYTES } from '../../src/wire/grpc-options';
import { PsConnection } from '../../src/wire/ps-connection';
import { TcpProxy } from '../helpers/tcp-proxy';

const DIM = 8;
const EMB: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.1 }, initializer: { kind: 'uniform', scale: 0.05 }, seed: 3 };
const DENSE: TableSpec = { name: 'mlp', kind: 'dense', size: 33, optimizer: { kind: 'adam', lr: 0.01 }, seed: 4 };
/** Ids 1, 2^32 + 7, 99 as (lo, hi) u32 pairs. */
const IDS = new Uint32Array([1, 0, 7, 1, 99, 0]);
// The deadline of one attempt: the proxy holds the first answer past it, so the client retries.
const ATTEMPT_MS = 400;

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

// Issues 17 and 15 (a push applied twice): the PS applied a push, its answer came after the
// client's attempt deadline, and the client's retry was applied again. Pushes carry a client id
// and sequence number (ADR 0027) so the retry is acknowledged instead.
describe('a push whose answer comes late is applied once (idempotent pushes, issues 17 and 15)', function () {
  this.timeout(30_000);
  let ps: PsServer;
  let proxy: TcpProxy;
  let client: PsClient;
  let registry: ReturnType<typeof createMetrics>['registry'];
  /** Emits 'push' with the attempt number each time the client sends a push attempt. */
  let attempts: EventEmitter;

  beforeEach(async () => {
    registry = createMetrics({ job: 'dedup-test', role: 'ps', id: 'ps-0' }).registry;
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), metrics: registry });
    proxy = await TcpProxy.start(ps.addr);
    attempts = new EventEmitter();
    let sent = 0;
    client = new PsClient({
      shardMap: planShardMap([{ id: 0, addr: proxy.addr }]), logger: silentLogger(), maxInflightPushes: 0,
      callTimeoutMs: ATTEMPT_MS, backoff: { initialMs: 5, maxMs: 20, multiplier: 2 },
      connect: (addr) => {
        // The real connection, watched: a test must know the retry was sent before it lets the
        // held answers through (an event, not a sleep).
        const conn = new PsConnection({ addr, maxMessageBytes: DEFAULT_MAX_REQUEST_BYTES * 2 });
        const push = conn.push.bind(conn);
        conn.push = (req, timeoutMs) => {
          const p = push(req, timeoutMs);
          attempts.emit('push', ++sent);
          return p;
        };
        return conn;
      },
    });
    await client.admin.installShardMap();
    await client.admin.createTable(EMB);
    await client.admin.createTable(DENSE);
  });

  afterEach(async () => {
    client?.close();
    await proxy?.close();
    await ps?.stop();
  });

  /** Runs `push` with the PS's answers held until the client has sent its retry. */
  async function pushWithLateAnswer(push: () => Promise<void>): Promise<void> {
    proxy.holdAnswers();
    const retried = once(attempts, 'push').then(() => once(attempts, 'push'));
    const done = push();
    await retried; // attempt 1 timed out (its answer is held) and attempt 2 is on the wire
    proxy.releaseAnswers();
    await done;
    await client.data.flush();
  }

  it('sparse: the row equals one application, bit for bit, and the PS counts the duplicate', async () => {
    const ref = new EmbeddingTable({ ...EMB });
    const before = await client.data.pull('emb', IDS, DIM); // creates the rows; warms the connection
    const expected = new Float32Array(3 * DIM);
    ref.pull(IDS, expected);
    expect(bitsEqual(before, expected)).to.equal(true);

    const grads = new Float32Array(3 * DIM).map((_, i) => Math.sin(i + 1));
    await pushWithLateAnswer(() => client.data.push('emb', IDS, grads));
    ref.push(IDS, grads);

    const after = await client.data.pull('emb', IDS, DIM);
    ref.pull(IDS, expected);
    expect(bitsEqual(after, expected), 'applied exactly once').to.equal(true);
    expect(ps.node.counters.pushes).to.equal(1);
    expect(ps.node.dedup.duplicates).to.be.at.least(1);
    const text = await registry.metrics();
    expect(text).to.match(/^# TYPE tessera_ps_duplicate_pushes_total counter$/m);
    const m = /^tessera_ps_duplicate_pushes_total\{[^}]*\} (\d+)$/m.exec(text);
    expect(Number(m?.[1])).to.equal(ps.node.dedup.duplicates);
  });

  it('dense: the weights equal one application, bit for bit', async () => {
    const ref = new DenseTable({ ...DENSE, name: 'mlp' } as ConstructorParameters<typeof DenseTable>[0]);
    expect(bitsEqual(await client.data.pullDense('mlp'), ref.pull())).to.equal(true);
    const grads = new Float32Array(33).map((_, i) => Math.cos(i));
    await pushWithLateAnswer(() => client.data.pushDense('mlp', grads));
    ref.push(grads);
    expect(bitsEqual(await client.data.pullDense('mlp'), ref.pull()), 'applied exactly once').to.equal(true);
    expect(ps.node.counters.pushes).to.equal(1);
    expect(ps.node.dedup.duplicates).to.be.at.least(1);
  });

  it('a client without a push identity (older than ADR 0027) is still served, without dedup', async () => {
    const conn = new PsConnection({ addr: ps.addr, maxMessageBytes: 1 << 20 });
    try {
      const req = { table: 'emb', shardMapVersion: client.map.version, ids: Buffer.from(IDS.buffer), grads: Buffer.from(new Float32Array(3 * DIM).fill(0.1).buffer), encoding: 0, requestId: 0 };
      expect((await conn.push({ ...req }, 5_000)).rowsApplied).to.equal(3);
      expect((await conn.push({ ...req }, 5_000)).rowsApplied).to.equal(3);
      expect(ps.node.counters.pushes).to.equal(2);
      expect(ps.node.dedup.duplicates).to.equal(0);
    } finally {
      conn.close();
    }
  });
});
