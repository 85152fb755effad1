/**
 * Issue 17 §2 with the disk tier (ADR 0037 amendment 5), over the real replication RPCs: two PS
 * servers on port 0, each with an LMDB tier and replica tiers under its tier directory, a table
 * that keeps one slab of rows in RAM and spills the rest. PS 0 replicates to PS 1 through
 * `ConfigureReplication` and its 100 ms sender; PS 0 is stopped; `PromoteReplica` on PS 1 makes
 * its replica live. Every row PS 0 held, spilled or resident, is on PS 1 bit for bit, and most
 * of them stay on PS 1's tier.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import { GrpcReplicationPeers } from '../../src/client/replication-peers';
import { silentLogger } from '../../src/common/logger';
import { PsNode } from '../../src/ps/ps-node';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { TableStore } from '../../src/ps/store/table-store';
import { LmdbReplicaTiers } from '../../src/ps/tier/lmdb-replica-tiers';
import { LmdbRowTier } from '../../src/ps/tier/lmdb-row-tier';
import { planShardMap } from '../../src/sharding/shard-map';
import { withBuddies } from '../../src/sharding/buddies';
import { Encoding } from '../../src/wire/data-plane-codec';
import { asBytes } from '../../src/wire/key-block';
import { replicationCall } from '../../src/wire/replication-client';
import { until } from '../helpers/until';

const SLAB = 256;
const DIM = 8;
const ROWS = 6_000;

describe('buddy failover of a table on the disk tier, over the replication RPCs (issue 17, ADR 0037 amendment 5)', function () {
  this.timeout(60_000);
  let dir: string;
  const servers: PsServer[] = [];
  const closers: (() => Promise<void>)[] = [];
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-replica-tier-rpc-')); });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    for (const c of closers.splice(0)) await c();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function ps(i: number): Promise<PsServer> {
    const tierDir = path.join(dir, `ps-${i}`);
    const tier = new LmdbRowTier({ dir: tierDir });
    const replicaTiers = new LmdbReplicaTiers({ dir: tierDir });
    closers.push(() => tier.close(), () => replicaTiers.close());
    const node = new PsNode({ config: { maxRequestBytes: 64 << 20 }, logger: silentLogger(), store: new TableStore({ slabRows: SLAB, tier }), replicaTiers });
    const s = await startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger: silentLogger(), node });
    servers.push(s);
    return s;
  }

  it('the promoted buddy holds every row of the dead PS, spilled ones included, bit for bit', async () => {
    const [ps0, ps1] = [await ps(0), await ps(1)];
    const map = withBuddies(planShardMap([{ id: 0, addr: ps0.addr }, { id: 1, addr: ps1.addr }]), new Map([[0, 1], [1, 0]]));
    for (const s of [ps0, ps1]) {
      s.node.createTable({ name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, seed: 3, eviction: { maxRows: SLAB, spill: true } });
      s.node.setShardMap(map.version, map.numBuckets, null);
    }
    // PS 0's rows, most of them spilled before replication starts (the full copy walks its tier).
    // Each PS serves every bucket here (no owned mask): the replica is all of PS 0's rows.
    const push = (from: number, n: number, g: number) => {
      const ids = new Uint32Array(2 * n);
      for (let k = 0; k < n; k++) ids[2 * k] = from + k;
      ps0.node.push({ table: 'emb', shardMapVersion: map.version, ids: asBytes(ids), grads: asBytes(new Float32Array(n * DIM).fill(g)), encoding: Encoding.F32 });
    };
    for (let at = 0; at < ROWS; at += 200) push(at, 200, 0.25);
    const primary = ps0.node.store.getEmbedding('emb');
    expect(primary.spilledRows).to.be.at.least(ROWS - SLAB);

    const peers = new GrpcReplicationPeers();
    await peers.configure(ps1.addr, { selfId: 1, buddy: null, primaries: [0], shardMapVersion: map.version });
    await peers.configure(ps0.addr, { selfId: 0, buddy: { id: 1, addr: ps1.addr }, primaries: [], shardMapVersion: map.version });
    for (let at = 0; at < ROWS; at += 600) push(at, 100, -0.5); // while the copy runs: spilled rows back, changed, spilled again
    const lagZero = async () => (await replicationCall<{ lagSeconds: number }>(ps0.addr, 'ReplicationStatus', {})).lagSeconds === 0;
    await until(lagZero, 'the buddy to hold every row');

    const rowsAt = (node: PsNode): Map<number, string> => {
      const t = node.store.getEmbedding('emb');
      const want = Uint32Array.from({ length: 2 * ROWS }, (_, k) => (k % 2 === 0 ? k / 2 : 0));
      const out = new Uint32Array(2 * ROWS);
      const w = new Float32Array(DIM * ROWS);
      const s = new Float32Array(t.stateWidth * ROWS);
      const n = t.readRows(want, ROWS, out, w, s);
      const m = new Map<number, string>();
      const hex = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
      for (let j = 0; j < n; j++) m.set(out[2 * j], `${hex(w.subarray(j * DIM, (j + 1) * DIM))}|${hex(s.subarray(j * t.stateWidth, (j + 1) * t.stateWidth))}`);
      return m;
    };
    const atDeath = rowsAt(ps0.node);
    expect(atDeath.size).to.equal(ROWS);
    await ps0.stop();
    servers.splice(servers.indexOf(ps0), 1);

    const every = Array.from({ length: map.numBuckets }, (_, b) => b);
    const promoted = await peers.promote(ps1.addr, 0, every);
    const live = ps1.node.store.getEmbedding('emb');
    expect(promoted.rows).to.equal(ROWS);
    expect(live.size, 'the buddy keeps its RAM budget').to.be.at.most(SLAB);
    expect(live.spilledRows, 'the promoted rows stay on its tier').to.be.at.least(ROWS - SLAB);
    expect(rowsAt(ps1.node)).to.deep.equal(atDeath);
  });
});
