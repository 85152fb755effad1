/**
 * Issue 17 §2 (ADR 0037 amendment 5): buddy replication covers rows on the disk tier. A primary
 * with a one-slab RAM budget holds most of its rows on its tier; a full copy walks the tier, a
 * batch reads rows changed and spilled since the previous one from the tier, the replica spills
 * on the buddy to its own tier, and a promotion moves the replica's spilled rows onto the live
 * table's tier without loading them. The promoted table equals the primary's, bit for bit.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { silentLogger } from '../../../../src/common/logger';
import { PsNode } from '../../../../src/ps/ps-node';
import { ReplicaStore } from '../../../../src/ps/replication/replica-store';
import { ReplicationLog } from '../../../../src/ps/replication/replication-log';
import { TableStore } from '../../../../src/ps/store/table-store';
import { LmdbReplicaTiers } from '../../../../src/ps/tier/lmdb-replica-tiers';
import { LmdbRowTier } from '../../../../src/ps/tier/lmdb-row-tier';
import { Encoding } from '../../../../src/wire/data-plane-codec';
import { asBytes } from '../../../../src/wire/key-block';

const NB = 16;
const SLAB = 64;
/** The RAM budget: two slabs; requests of 50 ids fit in it. */
const BUDGET = 2 * SLAB;
const DIM = 4;
const ALL = 1000;
const ids = (xs: number[]) => Uint32Array.from(xs.flatMap((x) => [x, 7]));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('buddy replication of the disk tier (issue 17, ADR 0037 amendment 5)', () => {
  let dir: string;
  const closers: (() => Promise<void>)[] = [];
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-replica-tier-')); });
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function node(name: string, opts: { f16?: boolean } = {}): { n: PsNode; replicaTiers: LmdbReplicaTiers } {
    const tierDir = path.join(dir, name);
    const tier = new LmdbRowTier({ dir: tierDir });
    const replicaTiers = new LmdbReplicaTiers({ dir: tierDir });
    closers.push(async () => { await tier.close(); await replicaTiers.close(); });
    const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger(), store: new TableStore({ slabRows: SLAB, tier }), replicaTiers });
    n.createTable({
      name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.1 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 7,
      eviction: { maxRows: BUDGET, spill: true }, ...(opts.f16 ? { weightFormat: 'f16' as const } : {}),
    });
    n.setShardMap(1, NB, null);
    return { n, replicaTiers };
  }
  const pull = (n: PsNode, xs: number[]) => n.pull({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids(xs)), encoding: Encoding.F32 }, (b) => new Uint8Array(b));
  function push(n: PsNode, xs: number[], g: number): void {
    n.push({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids(xs)), grads: asBytes(new Float32Array(xs.length * DIM).fill(g)), encoding: Encoding.F32 });
  }
  /** Every row of `xs` as stored (weights and optimizer state, resident or spilled), bit patterns. */
  function rows(n: PsNode, xs: number[]): Map<number, string> {
    const t = n.store.getEmbedding('emb');
    const w = new Float32Array(DIM * xs.length);
    const s = new Float32Array(t.stateWidth * xs.length);
    const out = new Uint32Array(2 * xs.length);
    const k = t.readRows(ids(xs), xs.length, out, w, s);
    const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)].join(',');
    const m = new Map<number, string>();
    for (let j = 0; j < k; j++) m.set(out[2 * j], bits(w.subarray(DIM * j, DIM * (j + 1))) + '|' + bits(s.subarray(t.stateWidth * j, t.stateWidth * (j + 1))));
    return m;
  }

  for (const f16 of [false, true]) {
    it(`a promoted replica equals the primary's table, rows on the tier included${f16 ? ' (f16 rows)' : ''}`, async () => {
      const { n: primary } = node('primary', { f16 });
      const { n: buddy } = node('buddy', { f16 });
      const store = new ReplicaStore(buddy);
      // A new log's first batches are a full copy: start it with most rows already spilled.
      for (let i = 0; i < ALL; i += 50) push(primary, range(i, i + 50), 0.5);
      const pt = primary.store.getEmbedding('emb');
      expect(pt.spilledRows, 'most rows are on the primary\'s tier').to.be.at.least(ALL - BUDGET);
      const copy = new ReplicationLog(primary, { primaryId: 3 });
      primary.onApplied = (t, i, c, s, r, g) => copy.applied(t, i, c, s, r, g);
      const first = copy.cut(256)!;
      expect(first.reset).to.equal(true);
      expect(first.complete, 'the tier is walked over several batches').to.equal(false);
      store.apply(first);
      copy.acked(first);
      // Mid-walk: rows on the tier far ahead of the walk come back into RAM by a pull (unchanged,
      // so only the tier reports them) and by a push.
      expect(pt.has(500, 7) || pt.has(600, 7), 'rows 500.. and 600.. were on the tier').to.equal(false);
      pull(primary, range(500, 540));
      push(primary, range(600, 610), -0.25);
      let b;
      let batches = 1;
      do {
        b = copy.cut(256)!;
        store.apply(b);
        copy.acked(b);
        batches++;
      } while (!b.complete);
      expect(batches).to.be.greaterThan(2);
      // Changed, then spilled before the next cut: the batch reads it from the tier.
      push(primary, [5, 6, 7], 1.5);
      for (let i = 300; i < 300 + 2 * BUDGET; i += 50) pull(primary, range(i, i + 50));
      expect(pt.has(5, 7), 'row 5 was pushed and then spilled').to.equal(false);
      const last = copy.cut(256)!;
      store.apply(last);
      copy.acked(last);
      expect(last.rows).to.be.greaterThan(0);

      const replicated = store.list()[0];
      expect(replicated.rows, 'the replica holds every row').to.equal(ALL);
      const p = await store.promote(3, new Uint8Array(NB).fill(1));
      expect(p.rows).to.equal(ALL);
      const bt = buddy.store.getEmbedding('emb');
      expect(bt.size, 'the buddy\'s live table keeps its RAM budget').to.be.at.most(BUDGET);
      expect(bt.spilledRows, 'the promoted rows stay on the live tier').to.be.at.least(ALL - BUDGET);
      expect(rows(buddy, range(0, ALL))).to.deep.equal(rows(primary, range(0, ALL)));
      expect(rows(primary, range(0, ALL)).size).to.equal(ALL);
      // The promoted rows serve: a spilled one comes back into RAM as the primary's.
      const out = new Float32Array(DIM);
      const want = new Float32Array(DIM);
      buddy.store.getEmbedding('emb').pull(ids([5]), out);
      primary.store.getEmbedding('emb').pull(ids([5]), want);
      expect([...out]).to.deep.equal([...want]);
    });
  }

  it('a replica kept no longer has its tier deleted', async () => {
    const { n: buddy, replicaTiers } = node('buddy');
    const { n: primary } = node('primary');
    for (let i = 0; i < 400; i += 50) push(primary, range(i, i + 50), 0.5);
    const log = new ReplicationLog(primary, { primaryId: 4 });
    const store = new ReplicaStore(buddy);
    for (let b = log.cut(1 << 16); b; b = log.cut(1 << 16)) {
      store.apply(b);
      log.acked(b);
    }
    expect(fs.existsSync(replicaTiers.dirOf(4))).to.equal(true);
    store.retain(new Set());
    await replicaTiers.release(4); // joins the release retain started
    expect(fs.existsSync(replicaTiers.dirOf(4))).to.equal(false);
  });
});
