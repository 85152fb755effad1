import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { serveMetrics, MetricsServer } from '../../src/metrics/http';
import { createMetrics } from '../../src/metrics/registry';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-store';
import { planShardMap } from '../../src/sharding/shard-map';
import { PsClient } from '../../src/client/ps-client';

const DIM = 2;
const SPEC: TableSpec = {
  name: 'lean', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' },
  weightFormat: 'f16', admission: { minCount: 2 }, eviction: { ttlSteps: 1, maxRows: 1 << 16 },
};

/** The value of the one sample of `name` whose label set contains `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  expect(lines, `${name} ${want} in\n${text}`).to.have.length(1);
  return Number(lines[0].split(' ').pop());
}

/** Issue #6: table memory options travel over CreateTable and show up in /metrics. */
describe('PS memory options over gRPC', function () {
  this.timeout(20_000);
  let ps: PsServer;
  let http: MetricsServer;
  let client: PsClient;

  beforeEach(async () => {
    const metrics = createMetrics({ job: 'mem', role: 'ps', id: 'ps-0' });
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), metrics: metrics.registry });
    http = await serveMetrics(metrics.registry, { port: 0 });
    client = new PsClient({ shardMap: planShardMap([{ id: 0, addr: ps.addr }]), logger: silentLogger() });
    await client.admin.installShardMap();
  });
  afterEach(async () => {
    client.close();
    await http.close();
    await ps.stop();
  });

  it('creates an f16 table with admission and eviction; exports admissions, drops and evictions', async () => {
    await client.admin.createTable(SPEC);
    expect(ps.node.store.spec('lean')).to.deep.include({
      weightFormat: 'f16', admission: { minCount: 2, sketchWidth: 1 << 20, sketchDepth: 4, unadmitted: 'zeros' },
      eviction: { policy: 'lfu', ttlSteps: 1, maxRows: 1 << 16 },
    });
    const ids = new Uint32Array([1, 0, 2, 0]);
    expect(Array.from(await client.data.pull('lean', ids, DIM))).to.deep.equal([0, 0, 0, 0]); // sighting 1: zeros
    await client.data.push('lean', ids, new Float32Array(2 * DIM).fill(1)); // not admitted: dropped
    await client.data.flush();
    await client.data.pull('lean', ids, DIM); // sighting 2: admitted
    await client.data.push('lean', new Uint32Array([1, 0]), Float32Array.of(0.5, 0.5));
    await client.data.flush();
    expect(Array.from(await client.data.pull('lean', ids, DIM))).to.deep.equal([-0.5, -0.5, 0, 0]);
    for (let i = 0; i < 3; i++) await client.data.push('lean', new Uint32Array([1, 0]), Float32Array.of(0, 0));
    await client.data.flush();
    // Id 2 was untouched for 3 pushes: the sweep after each push has evicted it; id 1 stays.
    const lean = ps.node.store.getEmbedding('lean');
    expect([lean.has(1, 0), lean.has(2, 0)]).to.deep.equal([true, false]);

    const text = await (await fetch(http.url)).text();
    expect(sample(text, 'tessera_ps_admissions_total', { table: 'lean', outcome: 'admitted' })).to.equal(2);
    expect(sample(text, 'tessera_ps_admissions_total', { table: 'lean', outcome: 'rejected' })).to.equal(2);
    expect(sample(text, 'tessera_ps_dropped_gradient_rows_total', { table: 'lean' })).to.equal(2);
    expect(sample(text, 'tessera_ps_evictions_total', { table: 'lean', reason: 'ttl' })).to.equal(1);
    expect(sample(text, 'tessera_ps_evictions_total', { table: 'lean', reason: 'budget' })).to.equal(0);
  });

  it('refuses bad options with INVALID_ARGUMENT naming the key, and keeps serving', async () => {
    const bad = async (over: Partial<TableSpec>): Promise<string> =>
      client.admin.createTable({ ...SPEC, name: 'bad', ...over } as TableSpec).then(() => 'created', (e: Error) => e.message);
    expect(await bad({ admission: { minCount: 0 } })).to.match(/admission\.minCount must be >= 1/);
    expect(await bad({ eviction: { policy: 'arc' as never, maxRows: 1 << 16 } })).to.match(/eviction\.policy must be one of lfu/);
    expect(await bad({ eviction: { maxRows: -3 } })).to.match(/eviction\.maxRows must be >= 1/);
    expect(await bad({ eviction: { maxRows: 10 } })).to.match(/eviction\.maxRows must be at least one slab/);
    expect(await bad({ weightFormat: 'f64' as never })).to.match(/weightFormat must be one of f32, f16/);
    expect(ps.node.store.has('bad')).to.equal(false);
    await client.admin.createTable(SPEC);
    expect(Array.from(await client.data.pull('lean', new Uint32Array([9, 0]), DIM))).to.deep.equal([0, 0]);
  });
});
