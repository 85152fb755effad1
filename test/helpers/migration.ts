/**
 * Helpers for migration tests (issue 17): PS that join a running cluster owning nothing, the
 * moving buckets between two maps per source, calls to a PS's PsMigration service, waiting
 * for a local cluster's published shard map, and the push counts of its workers and PS.
 */
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../src/common/logger';
import type { LocalCluster } from '../../src/local/local-cluster';
import { ShardMapStore } from '../../src/membership/shard-map-store';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { PsNode } from '../../src/ps/ps-node';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { TableStore } from '../../src/ps/store/table-store';
import type { TableSpec } from '../../src/ps/store/table-spec';
import type { ShardMap } from '../../src/sharding/shard-map';
import { migrationCall as sendMigrationCall } from '../../src/wire/migration-client';
import { logLines } from './cluster';
import { psCounters, workersExited } from './cluster-ledger';

/** A PS on port 0 with small slabs, `tables` created and shard-map `version` installed owning no bucket. */
export async function joiningPs(tables: TableSpec[], version: number, numBuckets: number, slabRows = 64): Promise<PsServer> {
  const node = new PsNode({ config: { maxRequestBytes: 64 << 20 }, logger: silentLogger(), store: new TableStore({ slabRows }) });
  for (const t of tables) node.createTable(t);
  node.setShardMap(version, numBuckets, []);
  return startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger: silentLogger(), node });
}

/** The buckets that move from PS id `from` to PS id `to` between `a` and `b`, packed uint32. */
export function movingBuckets(a: ShardMap, b: ShardMap, from: number, to: number): Buffer {
  const out: number[] = [];
  for (let k = 0; k < a.numBuckets; k++) if (a.ps[a.owner[k]].id === from && b.ps[b.owner[k]].id === to) out.push(k);
  return Buffer.from(Uint32Array.from(out).buffer);
}

/** Calls unary PsMigration `method` on the PS at `addr` (with `credentials`: mutual TLS); rejects with the TesseraError. */
export function migrationCall<Res = Record<string, number>>(addr: string, method: 'BeginMigration' | 'SendTail' | 'EndMigration', req: object, credentials?: grpc.ChannelCredentials): Promise<Res> {
  return sendMigrationCall<Res>(addr, method, req, { credentials });
}

/** Re-reads the published shard map until `ok` holds; the timeout turns a hang into a failure naming `what`. */
export async function awaitMap(c: LocalCluster, ok: (m: ShardMap) => boolean, what: string, timeoutMs = 90_000): Promise<ShardMap> {
  const client = createEtcdClient(c.etcdUrl);
  const store = new ShardMapStore({ client, job: c.opts.job, logger: silentLogger() });
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = await store.get();
      if (m && ok(m)) return m;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; logs in ${c.opts.runDir}`);
  } finally {
    client.close();
  }
}

/** What the workers' PS clients and the PS counted of the pushes of a run (see pushTally). */
export interface PushTally {
  /** Push requests the workers' clients saw acknowledged. */
  acked: number;
  /** Requests the workers' clients re-sent by a newer shard map. */
  reroutes: number;
  /** The newest shard map a worker's client routed by when it closed. */
  mapVersion: number;
  /** Push requests the PS applied: ok push requests less retries acknowledged again from the dedup window. */
  applied: number;
  /** Worker log lines naming a fault or a retrain from the last committed position. */
  faults: string[];
}

/** Once `workers` workers have exited: their clients' push counts against the live PS's applied pushes. */
export async function pushTally(c: LocalCluster, workers: number): Promise<PushTally> {
  await workersExited(c, workers);
  const lines = logLines(c, 'worker');
  const faults = lines.filter((l) => /not as the chief published it|resuming from the last committed position/.test(String(l.msg))).map((l) => String(l.msg));
  const closes = lines.filter((l) => l.msg === 'closed the PS connections');
  const ps = await psCounters(c, ['tessera_ps_requests_total', 'tessera_ps_duplicate_pushes_total']);
  return {
    acked: closes.reduce((n, l) => n + Number(l.pushesAcked), 0),
    reroutes: closes.reduce((n, l) => n + Number(l.reroutes), 0),
    mapVersion: Math.max(0, ...closes.map((l) => Number(l.mapVersion))),
    applied: ps.get('tessera_ps_requests_total')! - ps.get('tessera_ps_duplicate_pushes_total')!,
    faults,
  };
}
