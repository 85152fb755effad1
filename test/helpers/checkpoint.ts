/**
 * Helpers for checkpoint tests: in-process PS clusters with small slabs (so a few thousand rows
 * span many slabs), a bit-exact dump of what every PS holds or a checkpoint holds, and
 * deterministic training traffic.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { PsNode } from '../../src/ps/ps-node';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { DenseTable } from '../../src/ps/store/dense-table';
import { TableStore } from '../../src/ps/store/table-store';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { PsClient } from '../../src/client/ps-client';
import { resolveChain } from '../../src/checkpoint/catalog';
import { restoreCheckpoint } from '../../src/ps/checkpoint/restore-loader';
import { tableSpecOfLayout } from '../../src/ps/table-layout';
import type { DataPlane } from '../../src/wire/grpc-options';

export interface CkptCluster {
  servers: PsServer[];
  map: ShardMap;
  client: PsClient;
  tearDown(): Promise<void>;
}

/**
 * `n` PS on port 0 with `slabRows`-row slabs, tables created, shard map installed. They may
 * checkpoint under `checkpointRoots` (default the temp directory, where `tempRoot` makes roots);
 * `dataPlane` carries their pulls and pushes (default grpc-js).
 */
export async function ckptCluster(n: number, tables: TableSpec[], slabRows = 64, checkpointRoots = [os.tmpdir()], dataPlane?: DataPlane): Promise<CkptCluster> {
  const servers = await Promise.all(Array.from({ length: n }, () => {
    const node = new PsNode({ config: { maxRequestBytes: 64 << 20 }, logger: silentLogger(), store: new TableStore({ slabRows }) });
    return startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger: silentLogger(), node, checkpointRoots, dataPlane });
  }));
  const map = planShardMap(servers.map((s, id) => ({ id, addr: s.addr })));
  const client = new PsClient({ shardMap: map, logger: silentLogger(), maxInflightPushes: 0 });
  await client.admin.installShardMap();
  for (const t of tables) await client.admin.createTable(t);
  return {
    servers, map, client,
    tearDown: async () => {
      client.close();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

function bits(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/** Every row of `table` over all PS as `lo:hi → weight bits|state bits`; a dense table as one entry. */
export function dumpTable(servers: PsServer[], table: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const s of servers) {
    if (!s.node.store.has(table)) continue;
    const t = s.node.store.get(table);
    if (t instanceof DenseTable) {
      if (!m.has('dense') || s.node.stats().tables.length > 0) m.set(`dense@${s.addr}`, `${bits(t.values)}|${bits(t.state)}`);
      continue;
    }
    t.forEachRow((lo, hi, w, st) => {
      const key = `${lo}:${hi}`;
      if (m.has(key)) throw new Error(`row ${key} held by two PS`);
      m.set(key, `${bits(w)}|${bits(st)}`);
    });
  }
  return m;
}

/** The dense table's weights and state bits on the PS that owns it (the one that was written). */
export function denseBits(servers: PsServer[], table: string, owner: number): string {
  const t = servers[owner].node.store.getDense(table);
  return `${bits(t.values)}|${bits(t.state)}`;
}

/** `n` ids (lo, hi pairs) starting at `from`, spread over buckets. */
export function idRange(from: number, n: number): Uint32Array {
  const ids = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    ids[2 * i] = Math.imul(from + i, 2654435761) >>> 0;
    ids[2 * i + 1] = (from + i) >>> 3;
  }
  return ids;
}

/** Deterministic gradients for `n` rows of `dim`. */
export function gradsFor(n: number, dim: number, round: number): Float32Array {
  return new Float32Array(n * dim).map((_, i) => Math.sin(i * 0.37 + round) * 0.1);
}

/** One training round: pull `ids` (creating rows) and push gradients for them. */
export async function trainRound(client: PsClient, table: string, ids: Uint32Array, dim: number, round: number): Promise<void> {
  await client.data.pull(table, ids, dim);
  await client.data.push(table, ids, gradsFor(ids.length / 2, dim, round));
  await client.data.flush();
}

export function tempRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-ckpt-'));
}

/**
 * Per-test checkpoint root and cluster bookkeeping for a describe block: a fresh `root` before
 * each test; clusters passed to `track` are torn down and the root removed after it.
 */
export function ckptPerTest(): { readonly root: string; track(c: CkptCluster): CkptCluster } {
  const clusters: CkptCluster[] = [];
  let root = '';
  beforeEach(() => { root = tempRoot(); });
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.tearDown()));
    fs.rmSync(root, { recursive: true, force: true });
  });
  return {
    get root() { return root; },
    track(c: CkptCluster) { clusters.push(c); return c; },
  };
}

/**
 * Every row of checkpoint `id` under `root` (its chain applied, as a restore applies it) as
 * `table lo:hi → weight bits|state bits`, dense tables as `table → bits`: loaded into one PS
 * that owns every bucket, so checkpoints written by different PS sets compare key by key.
 */
export async function checkpointRows(root: string, id: string): Promise<Map<string, string>> {
  const [manifest] = (await resolveChain(root, id)).slice(-1);
  const node = new PsNode({ config: { maxRequestBytes: 64 << 20 }, logger: silentLogger(), store: new TableStore({ slabRows: 4096 }) });
  const specs = manifest.tables.map(tableSpecOfLayout);
  for (const spec of specs) node.createTable(spec);
  node.setShardMap(manifest.shardMapVersion, manifest.numBuckets, null);
  const dense = specs.filter((s) => s.kind === 'dense').map((s) => s.name);
  await restoreCheckpoint(node, { root, id, buckets: null, numBuckets: manifest.numBuckets, denseTables: dense });
  const out = new Map<string, string>();
  for (const spec of specs) {
    const t = node.store.get(spec.name);
    if (t instanceof DenseTable) out.set(spec.name, `${bits(t.values)}|${bits(t.state)}`);
    else t.forEachRow((lo, hi, w, st) => out.set(`${spec.name} ${lo}:${hi}`, `${bits(w)}|${bits(st)}`));
  }
  return out;
}
