// Issue #6 part 4: the disk tier. Rows spill to LMDB under a 1-slab RAM budget and come back on
// access bit-exactly; checkpoints stream spilled rows; bad options and a bad tier dir are refused.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { silentLogger } from '../../../src/common/logger';
import { PsNode } from '../../../src/ps/ps-node';
import { EmbeddingTable, EmbeddingTableOptions } from '../../../src/ps/store/embedding-table';
import { TableStore } from '../../../src/ps/store/table-store';
import type { SnapshotBatch } from '../../../src/ps/store/table-snapshot';
import { open as openLmdb } from 'lmdb';
import { LmdbRowTier, LmdbTableTier } from '../../../src/ps/tier/lmdb-row-tier';
import type { TableTier } from '../../../src/ps/store/row-tier';
import { Encoding } from '../../../src/wire/data-plane-codec';
import { Registry } from 'prom-client';
import { PsMetrics } from '../../../src/ps/ps-metrics';

const DIM = 4;
const SLAB = 16;
const BUCKETS = 64;

function idsOf(keys: number[]): Uint32Array {
  const ids = new Uint32Array(2 * keys.length);
  keys.forEach((k, i) => {
    ids[2 * i] = Math.imul(k, 2654435761) >>> 0;
    ids[2 * i + 1] = k;
  });
  return ids;
}

function gradsFor(keys: number[], step: number): Float32Array {
  return Float32Array.from({ length: keys.length * DIM }, (_, i) => Math.sin(step * 0.37 + keys[i >> 2] + (i & 3)) * 0.1);
}

/** id → `weights bits | state bits` of every row in a snapshot (full, all buckets). */
function snapshotContents(t: EmbeddingTable, between?: (batch: number) => void): Map<string, string> {
  const snap = t.beginSnapshot({ sinceEpoch: 0, nextEpoch: 2, numBuckets: BUCKETS, owned: null });
  const m = new Map<string, string>();
  let k = 0;
  for (let b: SnapshotBatch | null = snap.next(); b; b = snap.next()) {
    for (let i = 0; i < b.rows; i++) {
      const id = `${b.ids[2 * i]}:${b.ids[2 * i + 1]}`;
      expect(m.has(id), `row ${id} emitted twice`).to.equal(false);
      const w = b.weights.slice(i * DIM, (i + 1) * DIM);
      const s = b.state.slice(i * t.stateWidth, (i + 1) * t.stateWidth);
      m.set(id, `${[...new Uint8Array(w.buffer)]}|${[...new Uint8Array(s.buffer)]}`);
    }
    between?.(k++);
  }
  t.endSnapshot(snap);
  return m;
}

describe('disk tier (issue #6 part 4)', () => {
  let dir: string;
  let tier: LmdbRowTier;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-tier-'));
    tier = new LmdbRowTier({ dir: path.join(dir, 'tier') });
  });
  afterEach(async () => {
    await tier.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function pair(name: string, over: Partial<EmbeddingTableOptions> = {}): { t: EmbeddingTable; ref: EmbeddingTable } {
    const base = { name, dim: DIM, optimizer: { kind: 'adagrad' as const, lr: 0.1 }, seed: 3, slabRows: SLAB, ...over };
    return {
      t: new EmbeddingTable({ ...base, eviction: { maxRows: SLAB, spill: true }, tier: tier.openTable(name) }),
      ref: new EmbeddingTable(base),
    };
  }

  for (const weightFormat of ['f32', 'f16'] as const) {
    it(`round-trips a row and its optimizer state bit-exactly (${weightFormat})`, () => {
      const { t, ref } = pair(`rt-${weightFormat}`, { weightFormat });
      const first = Array.from({ length: SLAB }, (_, i) => i);
      for (let step = 0; step < 3; step++) {
        for (const x of [t, ref]) x.push(idsOf(first), gradsFor(first, step));
      }
      const before = snapshotContents(ref);
      const later = Array.from({ length: 3 * SLAB }, (_, i) => 1000 + i);
      for (let i = 0; i < later.length; i += 8) t.pull(idsOf(later.slice(i, i + 8)), new Float32Array(8 * DIM));
      const spilled = first.filter((k) => !t.has(...(Array.from(idsOf([k])) as [number, number])));
      expect(spilled.length).to.equal(SLAB);
      expect(t.spilledRows).to.be.greaterThanOrEqual(SLAB);
      t.pull(idsOf(first), new Float32Array(SLAB * DIM)); // reloads all 16, spilling others
      const snapT = snapshotContents(t);
      for (const [id, bits] of before) expect(snapT.get(id), id).to.equal(bits);
      const c = t.memoryCounters().tier!;
      expect(c.hits).to.equal(SLAB);
      expect(c.spills).to.be.greaterThanOrEqual(SLAB + later.length - SLAB);
      expect(c.reload.counts.reduce((a, b) => a + b, 0)).to.equal(SLAB);
    });
  }

  it('lookup (issue 14, serving): reloads spilled rows into RAM, inserts no absent id, reads what eval reads', () => {
    const { t, ref } = pair('lookup');
    const stored = Array.from({ length: 4 * SLAB }, (_, i) => i);
    for (let i = 0; i < stored.length; i += 8) { // 3 slabs' worth spill to disk
      const part = stored.slice(i, i + 8);
      for (const x of [t, ref]) x.push(idsOf(part), gradsFor(part, 0));
    }
    expect(t.size).to.be.at.most(SLAB);
    const spilled = stored.filter((k) => !t.has(...(Array.from(idsOf([k])) as [number, number]))).slice(0, 6);
    const absent = [9000, 9001];
    const keys = [...spilled, spilled[0], ...absent]; // a repeated spilled id, and ids never stored
    const got = new Float32Array(keys.length * DIM);
    const want = new Float32Array(keys.length * DIM);
    t.lookup(idsOf(keys), got);
    ref.peek(idsOf(keys), want);
    expect(Array.from(got)).to.deep.equal(Array.from(want));
    for (const k of spilled) expect(t.has(...(Array.from(idsOf([k])) as [number, number])), `spilled ${k} back in RAM`).to.equal(true);
    for (const k of absent) expect(t.has(...(Array.from(idsOf([k])) as [number, number])), `absent ${k} not inserted`).to.equal(false);
    expect(t.size).to.be.at.most(SLAB);
    expect(t.memoryCounters().tier!.hits).to.equal(spilled.length);
    expect(t.spilledRows + t.size).to.equal(stored.length);
    const tooMany = Array.from({ length: SLAB + 1 }, (_, i) => i);
    expect(() => t.lookup(idsOf(tooMany), new Float32Array(tooMany.length * DIM))).to.throw(/exceed the table's row budget of 16/);
  });

  it('a full disk: RESOURCE_EXHAUSTED for rows that need room, resident rows keep serving, no spilled row lost', () => {
    // A real LMDB database whose write transactions fail as a full disk fails them while `full`.
    const env = openLmdb({ path: path.join(dir, 'full-env'), noSync: true });
    const db = env.openDB<Buffer, Buffer>({ name: 'full', keyEncoding: 'binary', encoding: 'binary' });
    let full = false;
    const diskFull = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === 'transactionSync' && full) return () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }); };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const failing: TableTier = new LmdbTableTier(diskFull, `${dir}/full-env`);
    const base = { name: 'full', dim: DIM, optimizer: { kind: 'adagrad' as const, lr: 0.1 }, seed: 3, slabRows: SLAB };
    const t = new EmbeddingTable({ ...base, eviction: { maxRows: SLAB, spill: true }, tier: failing });
    const ref = new EmbeddingTable(base);
    const resident = Array.from({ length: SLAB }, (_, i) => i);
    for (const x of [t, ref]) x.push(idsOf(resident), gradsFor(resident, 0));
    full = true;
    const fresh = Array.from({ length: 8 }, (_, i) => 500 + i);
    const err = (() => { try { t.push(idsOf(fresh), gradsFor(fresh, 1)); return null; } catch (e) { return e; } })();
    expect(err).to.be.instanceOf(TesseraError);
    expect((err as TesseraError).code).to.equal(ERROR_CODES.RESOURCE_EXHAUSTED);
    expect((err as Error).message).to.match(/is full .*spilling stopped/);
    // Rows still resident are served, and pushes to them still apply.
    const still = resident.filter((k) => t.has(...(Array.from(idsOf([k])) as [number, number])));
    expect(still.length).to.be.greaterThan(0);
    for (const x of [t, ref]) x.push(idsOf(still), gradsFor(still, 2));
    const a = new Float32Array(still.length * DIM);
    const b = new Float32Array(still.length * DIM);
    t.pull(idsOf(still), a);
    ref.pull(idsOf(still), b);
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    // Space is back: every row, including those whose spill failed, is intact.
    full = false;
    const all = [...resident, ...fresh];
    for (const x of [t, ref]) x.push(idsOf(fresh), gradsFor(fresh, 1));
    for (let i = 0; i < all.length; i += 8) { // a request may not exceed the 16-row budget
      const part = all.slice(i, i + 8);
      const c = new Float32Array(part.length * DIM);
      const d = new Float32Array(part.length * DIM);
      t.pull(idsOf(part), c);
      ref.pull(idsOf(part), d);
      expect(Array.from(c), `rows ${part}`).to.deep.equal(Array.from(d));
    }
    void env.close();
  });

  it('a 1-slab table trains 40× more ids than fit and every row equals a never-evicting table (f16)', () => {
    const { t, ref } = pair('train', { weightFormat: 'f16' });
    let s = 99;
    const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let step = 0; step < 400; step++) {
      const keys = Array.from({ length: 12 }, () => Math.floor(640 * rnd() ** 2)); // duplicates included
      const a = new Float32Array(keys.length * DIM);
      const b = new Float32Array(keys.length * DIM);
      t.pull(idsOf(keys), a);
      ref.pull(idsOf(keys), b);
      expect(Array.from(a), `pull at step ${step}`).to.deep.equal(Array.from(b));
      const g = gradsFor(keys, step);
      t.push(idsOf(keys), g);
      ref.push(idsOf(keys), g);
    }
    expect(t.size).to.be.at.most(SLAB);
    expect(ref.size).to.be.greaterThan(20 * SLAB);
    expect(t.size + t.spilledRows).to.equal(ref.size);
    expect(snapshotContents(t)).to.deep.equal(snapshotContents(ref));
    const c = t.memoryCounters().tier!;
    expect(c.hits).to.be.greaterThan(100);
    expect(c.misses).to.be.greaterThanOrEqual(ref.size);
  });

  it('never loses or repeats an update of a hot row spilled and reloaded between its pushes', () => {
    const { t, ref } = pair('hammer', { optimizer: { kind: 'sgd', lr: 1 } });
    const hot = 7;
    let spilledBeforePush = 0;
    let fresh = 100_000;
    for (let round = 0; round < 60; round++) {
      // Cold traffic until the hot row has been pushed out to disk (LFU halves its count per sweep).
      while (t.has(...(Array.from(idsOf([hot])) as [number, number]))) {
        const cold = Array.from({ length: SLAB - 1 }, () => fresh++);
        t.pull(idsOf(cold), new Float32Array(cold.length * DIM));
      }
      spilledBeforePush++;
      const batch = [hot, hot, fresh++, fresh++]; // the hot id twice: summed, applied once
      const g = gradsFor(batch, round);
      t.push(idsOf(batch), g);
      ref.push(idsOf(batch), g);
      expect(t.has(...(Array.from(idsOf([hot])) as [number, number]))).to.equal(true);
    }
    expect(spilledBeforePush).to.equal(60);
    const a = new Float32Array(DIM);
    const b = new Float32Array(DIM);
    t.pull(idsOf([hot]), a);
    ref.pull(idsOf([hot]), b);
    expect(Array.from(a)).to.deep.equal(Array.from(b));
  });

  it('a checkpoint taken while rows move between RAM and disk has every row exactly as at the cut', () => {
    const { t, ref } = pair('ckpt');
    const keys = Array.from({ length: 10 * SLAB }, (_, i) => i);
    for (let i = 0; i < keys.length; i += 8) {
      const k = keys.slice(i, i + 8);
      for (const x of [t, ref]) x.push(idsOf(k), gradsFor(k, i));
    }
    expect(t.spilledRows).to.be.greaterThan(5 * SLAB);
    const expected = snapshotContents(ref);
    // Between batches, reload spilled rows, change them, and spill others (after the cut).
    const got = snapshotContents(t, (k) => {
      const move = keys.slice((k * 8) % keys.length, (k * 8) % keys.length + 8);
      t.push(idsOf(move), gradsFor(move, 1000 + k));
    });
    expect(got).to.deep.equal(expected);
  });

  it('peek reads a spilled row without loading it; putRow and deleteIds drop the spilled copy', () => {
    const { t, ref } = pair('peek');
    const keys = Array.from({ length: 4 * SLAB }, (_, i) => i);
    for (const x of [t, ref]) x.push(idsOf(keys.slice(0, 8)), gradsFor(keys.slice(0, 8), 1));
    for (let i = 8; i < keys.length; i += 8) t.pull(idsOf(keys.slice(i, i + 8)), new Float32Array(8 * DIM));
    const id0 = Array.from(idsOf([0])) as [number, number];
    expect(t.has(...id0)).to.equal(false);
    const spilled = t.spilledRows;
    const a = new Float32Array(DIM);
    const b = new Float32Array(DIM);
    t.peek(idsOf([0]), a);
    ref.peek(idsOf([0]), b);
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect([t.has(...id0), t.spilledRows]).to.deep.equal([false, spilled]);
    t.putRow(id0[0], id0[1], Float32Array.of(1, 2, 3, 4), new Float32Array(t.stateWidth).fill(0.5));
    expect(t.spilledRows).to.equal(spilled - 1);
    expect(t.deleteIds(idsOf([1]))).to.equal(1);
    expect(t.spilledRows).to.equal(spilled - 2);
    const rows = snapshotContents(t);
    expect(rows.size).to.equal(t.size + t.spilledRows);
    expect(rows.has(`${idsOf([1])[0]}:1`)).to.equal(false);
  });

  it('refuses bad spill options, naming the key', () => {
    const store = new TableStore({ tier });
    const spec = (eviction: unknown) => ({ name: 'x', kind: 'embedding' as const, dim: 4, optimizer: { kind: 'sgd' as const, lr: 0.1 }, eviction: eviction as never });
    expect(() => store.create(spec({ maxRows: 1 << 16, spill: 'yes' }))).to.throw(/eviction\.spill must be true or false/);
    expect(() => store.create(spec({ ttlSteps: 10, spill: true }))).to.throw(/eviction\.spill needs a budget/);
    expect(() => new TableStore().create(spec({ maxRows: 1 << 16, spill: true }))).to.throw(/eviction\.spill needs a disk tier: start the PS with --tier-dir/);
    expect(() => store.create(spec({ maxRows: 100, spill: true }))).to.throw(/eviction\.maxRows must be at least one slab \(65536 rows\)/);
    expect(store.has('x')).to.equal(false);
    // Issue 23: a refused spec never reaches LMDB (the environment, and so its directory, is not even opened).
    expect(fs.existsSync(path.join(dir, 'tier')), 'tier directory').to.equal(false);
  });

  it('an unusable tier dir fails table creation with a clear error and the PS keeps serving', () => {
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const badTier = new LmdbRowTier({ dir: path.join(file, 'tier') });
    const node = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger(), tier: badTier });
    const spilling = { name: 'cold', kind: 'embedding' as const, dim: 4, optimizer: { kind: 'sgd' as const, lr: 0.1 }, eviction: { maxRows: 1 << 16, spill: true } };
    let err: unknown;
    try {
      node.createTable(spilling);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TesseraError);
    expect((err as TesseraError).code).to.equal(ERROR_CODES.TIER_UNAVAILABLE);
    expect((err as TesseraError).message).to.contain(path.join(file, 'tier'));
    expect(node.store.has('cold')).to.equal(false);
    node.createTable({ ...spilling, name: 'hot', eviction: { maxRows: 1 << 16 } });
    const out = new Uint8Array(2 * 4 * 4);
    const n = node.pull({ table: 'hot', shardMapVersion: 0, ids: new Uint8Array(idsOf([1, 2]).buffer), encoding: Encoding.F32 }, () => out);
    expect(n).to.equal(2);
  });

  it('exports reloads, misses, spills, rows on disk and a reload-latency histogram per table', async () => {
    const node = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger(), tier });
    const registry = new Registry();
    new PsMetrics(registry, node);
    node.createTable({ name: 'm', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 }, eviction: { maxRows: 1 << 16, spill: true } });
    const pull = (keys: number[]) => node.pull({ table: 'm', shardMapVersion: 0, ids: new Uint8Array(idsOf(keys).buffer), encoding: Encoding.F32 },
      () => new Uint8Array(keys.length * 16));
    for (let i = 0; i < (1 << 16) + 4096; i += 4096) pull(Array.from({ length: 4096 }, (_, k) => i + k));
    const t = node.store.getEmbedding('m');
    const spilled = Array.from({ length: 4096 }, (_, k) => k).filter((k) => !t.has(...(Array.from(idsOf([k])) as [number, number])));
    expect(spilled.length).to.be.greaterThan(3);
    pull(spilled.slice(0, 3)); // come back from disk
    const c = t.memoryCounters().tier!;
    expect(c.hits).to.equal(3);
    const text = await registry.metrics();
    expect(text).to.contain(`tessera_ps_tier_reloads_total{table="m"} 3`);
    expect(text).to.contain(`tessera_ps_tier_misses_total{table="m"} ${c.misses}`);
    expect(text).to.contain(`tessera_ps_tier_spills_total{table="m"} ${c.spills}`);
    expect(text).to.contain(`tessera_ps_tier_rows{table="m"} ${c.rows}`);
    expect(text).to.contain('tessera_ps_tier_reload_seconds_bucket{table="m",le="+Inf"} 3');
    expect(text).to.contain('tessera_ps_tier_reload_seconds_count{table="m"} 3');
  });
});
