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
import { Signal } from '../../src/common/signal';
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

const DIM = 4;

/**
 * No worker trains in these tests (the test pushes between publishes), so the pause around a cut
 * is the cut itself; the barrier in front of it is Checkpointer's, tested in test/etcd.
 */
const noWorkers: Pick<Checkpointer, 'cutOnly'> = {
  async cutOnly(_id, _wake, cut) {
    await cut();
    return { pauseMs: 0, pause: { acksMs: 0, verifyMs: 0, cutMs: 0, readMs: 0, resumeMs: 0 }, cutAt: Date.now(), step: 0, samples: 0 };
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
    return (await p.publish(new Signal())).written;
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
});
