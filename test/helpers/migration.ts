/**
 * Helpers for migration tests (issue 17): PS that join a running cluster owning nothing, the
 * moving buckets between two maps per source, calls to a PS's PsMigration service, and waiting
 * for a local cluster's published shard map.
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
