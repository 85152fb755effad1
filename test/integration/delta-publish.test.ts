/**
 * The delta stream's publishing side (issue 15, §2): real PS over gRPC on port 0 cut through
 * their checkpoint writer; the chief's backend turns the cuts into a full model version and
 * deltas under a real model root. A full version plus its deltas, applied in order, must hold
 * exactly the weights the PS hold at the last cut, evicted rows included (tombstoned).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { cutAtSteps } from '../../src/client/step-cut';
import type { JobState } from '../../src/control/job-types';
import { psDeltaBackend } from '../../src/chief/delta-backend';
import { DeltaPublisher, DeltaOutcome } from '../../src/chief/delta-publisher';
import type { Checkpointer } from '../../src/chief/checkpointer';
import { deltasDir, listDeltas, readDelta } from '../../src/export/delta-dir';
import { loadModel } from '../../src/export/model-dir';
import { listVersions, versionDir } from '../../src/export/model-root';
import { buildModelParts } from '../../src/infer/model-parts';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { ckptCluster, ckptPerTest, CkptCluster, dumpTable, idRange, tempRoot, trainRound } from '../helpers/checkpoint';
import { serveSpec } from '../helpers/serve';
import { selectBackend } from '../../src/model/backend';
import { TableStore } from '../../src/ps/store/table-store';
import { ModelServer } from '../../src/serve/model-server';
import { Registry } from 'prom-client';

const DIM = 4;

/**
 * No worker trains in these tests (the test pushes between publishes, untagged), so the cut is
 * the two rounds over the PS with no step to wait for and no positions to read; the Checkpointer's
 * cut with workers pushing is tested in test/etcd/step-cut-checkpoint.test.ts.
 */
const noWorkers: Pick<Checkpointer, 'cutOnly'> = {
  async cutOnly(req) {
    await cutAtSteps(req.parties(req.id, req.kind, req.base), req.id, { holdMs: 10_000, waitMs: 10_000 });
    const state = { phase: 'train', epoch: 0 } as JobState;
    return { id: req.id, kind: req.kind, pauseMs: 0, pause: { prepareMs: 0, readMs: 0, cutMs: 0 }, cutAt: Date.now(), state, progress: [], step: 0, samples: 0 };
  },
};

describe('delta publishing from consistent cuts (issue 15)', function () {
  this.timeout(60_000);
  const suite = ckptPerTest();
  let exportRoot = '';
  beforeEach(() => { exportRoot = tempRoot(); });
  afterEach(() => fs.rmSync(exportRoot, { recursive: true, force: true }));

  async function setUp(fullEvery: number): Promise<{ c: CkptCluster; publisher: DeltaPublisher; published: DeltaOutcome[] }> {
    const spec = serveSpec('online');
    const { layout, model } = buildModelParts(spec);
    const tables: TableSpec[] = layout.tableSpecs().map((t) => (t.name === 'emb' ? { ...t, eviction: { maxRows: 4 * 64 } } as TableSpec : t));
    const c = suite.track(await ckptCluster(2, [...tables, layout.denseSpec(model.initialDense().length)], 64, [suite.root]));
    const published: DeltaOutcome[] = [];
    const publisher = new DeltaPublisher({
      checkpointer: noWorkers, logger: silentLogger(), fullEvery, onPublished: (o) => published.push(o), announce: async () => undefined,
      backend: psDeltaBackend({ client: () => c.client, spec, checkpointRoot: suite.root, exportRoot, logger: silentLogger() }),
    });
    return { c, publisher, published };
  }

  async function publish(p: DeltaPublisher): Promise<DeltaOutcome> {
    return (await p.publish()).written;
  }

  it('a full version then deltas (rows, tombstones, dense) rebuild exactly the weights of the last cut', async () => {
    const { c, publisher } = await setUp(10);
    await trainRound(c.client, 'emb', idRange(0, 200), DIM, 0);
    const full = await publish(publisher);
    expect(full.kind).to.equal('full');
    expect(listVersions(exportRoot, 'online')).to.deep.equal([full.version]);
    await trainRound(c.client, 'emb', idRange(0, 30), DIM, 1); // rows pushed again
    await trainRound(c.client, 'emb', idRange(1000, 300), DIM, 2); // new rows: the budget evicts old ones
    const d1 = await publish(publisher);
    await trainRound(c.client, 'emb', idRange(2000, 100), DIM, 3);
    const d2 = await publish(publisher);
    expect([d1.kind, d1.parent, d2.kind, d2.parent]).to.deep.equal(['delta', full.version, 'delta', d1.version]);
    expect(d1.version).to.equal(full.version + 1);
    expect(d1.tombstones, 'evictions travel as tombstones').to.be.greaterThan(0);
    expect(d1.rows, 'only changed rows').to.equal(330);
    expect(fs.readdirSync(path.join(suite.root, 'delta-cuts')), 'staged cuts removed').to.deep.equal([]);

    const { store } = await loadModel(versionDir(exportRoot, 'online', full.version), { tableSpec: (t) => ({ ...t, eviction: undefined }) });
    for (const v of [d1.version, d2.version]) {
      const d = await readDelta(exportRoot, 'online', v);
      for (const t of d.tables) {
        const table = store.getEmbedding(t.name);
        table.deleteIds(t.tombstones);
        table.putRows(t.ids, t.weights, t.ids.length >>> 1);
      }
      store.getDense(d.dense.name).values.set(d.dense.values);
    }
    const live = dumpTable(c.servers, 'emb');
    const served = new Map<string, string>();
    store.getEmbedding('emb').forEachRow((lo, hi, w) => served.set(`${lo}:${hi}`, Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex')));
    expect([...served.keys()].sort()).to.deep.equal([...live.keys()].sort());
    for (const [k, v] of live) expect(served.get(k), k).to.equal(v.split('|')[0]);
    const dense = store.getDense('dense').values;
    const liveDense = [...dumpTable(c.servers, 'dense').values()].map((v) => v.split('|')[0]);
    expect(liveDense, 'the dense weights of the cut').to.include(Buffer.from(dense.buffer, dense.byteOffset, dense.byteLength).toString('hex'));
  });

  it('refuses a delta with a flipped byte, naming the file', async () => {
    const { c, publisher } = await setUp(10);
    await trainRound(c.client, 'emb', idRange(0, 50), DIM, 0);
    await publish(publisher);
    await trainRound(c.client, 'emb', idRange(0, 50), DIM, 1);
    const d = await publish(publisher);
    const file = path.join(deltasDir(exportRoot, 'online'), String(d.version), 'emb.rows');
    const bytes = fs.readFileSync(file);
    bytes[17] ^= 0x40;
    fs.writeFileSync(file, bytes);
    try {
      await readDelta(exportRoot, 'online', d.version);
      expect.fail('a corrupted delta was read');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('TESSERA_ERR_CHECKPOINT_CORRUPT');
      expect((err as Error).message).to.match(/emb\.rows: checksum mismatch/);
    }
  });

  it('publishes a full version every --full-every deltas and deletes deltas past the retention', async () => {
    const { c, publisher, published } = await setUp(2);
    for (let r = 0; r < 7; r++) {
      await trainRound(c.client, 'emb', idRange(100 * r, 20), DIM, r);
      await publish(publisher);
    }
    expect(published.map((o) => o.kind)).to.deep.equal(['full', 'delta', 'delta', 'full', 'delta', 'delta', 'full']);
    expect(published.map((o) => o.version)).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    // After full version 7 with a retention of 2 versions, deltas below 5 are gone.
    expect(listDeltas(exportRoot, 'online')).to.deep.equal([5, 6]);
  });

  it('rows the PS evicted are tombstoned in serving: a following server reads them at their cold-start value, live rows at the PS weights (issue 15 §3)', async () => {
    await selectBackend(silentLogger());
    const { c, publisher } = await setUp(10);
    const first = idRange(0, 200);
    await trainRound(c.client, 'emb', first, DIM, 0);
    const full = await publish(publisher);
    await trainRound(c.client, 'emb', idRange(1000, 300), DIM, 1); // new rows: the budget evicts old ones
    const d1 = await publish(publisher);
    expect(d1.tombstones, 'evictions travel as tombstones').to.be.greaterThan(0);

    const server = await ModelServer.start({ root: exportRoot, host: '127.0.0.1', port: 0, pollMs: 0, follow: true }, { logger: silentLogger(), registry: new Registry() });
    try {
      await server.registry.rescan();
      const served = server.registry.model('online').resolve({});
      expect(served.version, 'the delta is served').to.equal(d1.version);
      const live = dumpTable(c.servers, 'emb');
      const evicted: number[] = [];
      const kept: number[] = [];
      for (let i = 0; i < first.length / 2; i++) (live.has(`${first[2 * i]}:${first[2 * i + 1]}`) ? kept : evicted).push(i);
      expect(evicted.length, 'the PS evicted some of the first rows').to.be.greaterThan(0);
      expect(kept.length, 'and kept some').to.be.greaterThan(0);
      const pick = (idx: number[]) => Uint32Array.from(idx.flatMap((i) => [first[2 * i], first[2 * i + 1]]));
      const dim = served.store.getEmbedding('emb').dim;
      const atFull = (await loadModel(versionDir(exportRoot, 'online', full.version), { tableSpec: (t) => ({ ...t, eviction: undefined }) })).store.getEmbedding('emb');
      const before = new Float32Array(evicted.length * dim);
      atFull.lookup(pick(evicted), before);
      const cold = new TableStore();
      cold.create({ ...served.store.spec('emb'), eviction: undefined } as TableSpec);
      const coldRows = new Float32Array(evicted.length * dim);
      cold.getEmbedding('emb').lookup(pick(evicted), coldRows);
      expect(Array.from(before), 'the full version served the trained rows').to.not.deep.equal(Array.from(coldRows));
      expect(Array.from(served.readRows('emb', pick(evicted))), 'evicted rows read their cold-start value').to.deep.equal(Array.from(coldRows));
      const keptRows = served.readRows('emb', pick(kept));
      kept.forEach((id, j) => {
        const w = keptRows.subarray(j * dim, (j + 1) * dim);
        expect(Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('hex'), `live row ${id}`).to.equal(live.get(`${first[2 * id]}:${first[2 * id + 1]}`)!.split('|')[0]);
      });
    } finally {
      await server.close();
    }
  });
});
