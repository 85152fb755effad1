/**
 * `npm run bench:replication -- [--pushes N] [--batches B] [--tier] [--json]` (issue 17 §2, ADR
 * 0037 amendments 3 and 5): where buddy replication's CPU per pushed row goes, stage by stage, in one process
 * (so that other load on the machine changes wall time, not these CPU times):
 * - a push without replication, and with the primary's log recording it (the difference is the log);
 * - cutting batches, encoding them as `Replicate` requests, decoding them, and the buddy replaying
 *   them on its replica, for N pushes of 4,096 rows (dim 16, Adagrad; batches of the sender's default, 16,384 rows);
 * - carrying B such batches over grpc-js PS to PS (both ends here, the buddy's side decoding), and,
 *   as the limit for the same bytes, over node:http2 with the request written as it is and received
 *   into one reused buffer (no gRPC call machinery, no buffer per message).
 * With `--tier`, the stages again for a table with `eviction.spill` (its pushes go as rows read
 * at the cut, not shipped; the replica spills to its own tier): once with a budget that holds
 * every row (nothing spilled) and once with 16,384 resident rows of about 150,000 (most rows on
 * LMDB at both ends), so the difference is what the disk tier costs replication.
 * CPU is this process's user + system time per row pushed; ends with one JSON line with --json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../src/common/logger';
import { PsNode } from '../src/ps/ps-node';
import { TableStore } from '../src/ps/store/table-store';
import { LmdbReplicaTiers } from '../src/ps/tier/lmdb-replica-tiers';
import { LmdbRowTier } from '../src/ps/tier/lmdb-row-tier';
import { ReplicaStore } from '../src/ps/replication/replica-store';
import { ReplicaBatch, ReplicationLog } from '../src/ps/replication/replication-log';
import { DEFAULT_BATCH_ROWS } from '../src/ps/replication/replication-service';
import { tableSpecFromWire, tableSpecToWire, WireTableSpec } from '../src/ps/table-spec-wire';
import { Encoding } from '../src/wire/data-plane-codec';
import { replicationCallOn, replicationClient } from '../src/wire/replication-client';
import { psReplicationService } from '../src/wire/services';
import { argNum } from './bench-args';
import { zipfBatches } from './zipf-ids';

const DIM = 16;
const ROWS = 4096; // a PS's share of one 8,192-id push of bench:ps
const BATCH_ROWS = DEFAULT_BATCH_ROWS;
const replicate = psReplicationService().service.Replicate;
type Stage = 'plain' | 'logged' | 'cut' | 'encode' | 'decode' | 'replay';

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The table: no eviction (pushes shipped), or spilling with a budget of every row or of 16,384 rows. */
type Mode = 'shipped' | 'tier-resident' | 'tier-spilled';
const TIER_SLAB = 4096;
const tierDirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

function node(mode: Mode = 'shipped'): PsNode {
  if (mode === 'shipped') {
    const n = new PsNode({ config: { maxRequestBytes: 1 << 26 }, logger: silentLogger() });
    n.createTable({ name: 'bench', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 } });
    return n;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-replication-'));
  tierDirs.push(dir);
  const tier = new LmdbRowTier({ dir });
  const replicaTiers = new LmdbReplicaTiers({ dir });
  closers.push(() => tier.close(), () => replicaTiers.close());
  const n = new PsNode({ config: { maxRequestBytes: 1 << 26 }, logger: silentLogger(), store: new TableStore({ slabRows: TIER_SLAB, tier }), replicaTiers });
  const maxRows = mode === 'tier-spilled' ? 4 * TIER_SLAB : 1 << 20;
  n.createTable({ name: 'bench', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, eviction: { maxRows, spill: true } });
  return n;
}

/** Push requests of 4,096 Zipf ids each, in turn. */
function pushes(): (k: number) => Parameters<PsNode['push']>[0] {
  const ids = zipfBatches(64, 2 * ROWS).map((b) => new Uint8Array(b.buffer, b.byteOffset, 8 * ROWS));
  const grads = new Uint8Array(new Float32Array(ROWS * DIM).fill(0.01).buffer);
  return (k) => ({ table: 'bench', shardMapVersion: 0, ids: ids[k % 64], grads, encoding: Encoding.F32, clientId: 7n, pushSeq: k + 1 });
}

/** A primary with its log, and the cut batches as `Replicate` sends them. */
function primaryWithLog(mode: Mode = 'shipped') {
  const primary = node(mode);
  const log = new ReplicationLog(primary, { primaryId: 0 });
  primary.onApplied = (t, ids, c, s, r, g) => log.applied(t, ids, c, s, r, g);
  const request = (b: ReplicaBatch) => {
    const { oldestMs: _o, ...rest } = b;
    return { ...rest, specs: b.specs.map(tableSpecToWire) };
  };
  return { primary, log, request };
}

/** CPU ms per stage for `n` pushes of `ROWS` rows (after a warm-up of 128). */
function stages(n: number, mode: Mode = 'shipped'): Record<Stage, number> & { spilled: number } {
  const t: Record<Stage, number> = { plain: 0, logged: 0, cut: 0, encode: 0, decode: 0, replay: 0 };
  const timed = <T>(k: Stage, fn: () => T): T => {
    const c0 = cpuMs();
    const out = fn();
    t[k] += cpuMs() - c0;
    return out;
  };
  const plain = node(mode);
  const { primary, log, request } = primaryWithLog(mode);
  const replicas = new ReplicaStore(node(mode));
  const req = pushes();
  const ship = () => {
    const batch = timed('cut', () => log.cut(BATCH_ROWS));
    if (!batch) return;
    const bytes = timed('encode', () => replicate.requestSerialize(request(batch)));
    const got = timed('decode', () => replicate.requestDeserialize(bytes)) as Omit<ReplicaBatch, 'oldestMs' | 'specs'> & { specs: WireTableSpec[] };
    timed('replay', () => replicas.apply({ ...got, specs: got.specs.map(tableSpecFromWire) }));
    log.acked(batch);
  };
  for (let k = 0; k < 128 + n; k++) {
    if (k === 128) for (const s of Object.keys(t) as Stage[]) t[s] = 0;
    timed('plain', () => plain.push(req(k)));
    timed('logged', () => primary.push(req(k)));
    if (log.pendingIds >= BATCH_ROWS) ship();
  }
  ship();
  return { ...t, spilled: primary.store.getEmbedding('bench').spilledRows };
}

/** CPU ms of carrying `count` log batches to a grpc-js PsReplication server (which decodes them). */
async function overGrpc(count: number): Promise<number> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 256 << 20 });
  server.addService(psReplicationService().service, { Replicate: (call: grpc.ServerUnaryCall<{ pushes: Uint8Array[] }, object>, cb: grpc.sendUnaryData<object>) => cb(null, { rows: call.request.pushes.length }) });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const client = replicationClient(`127.0.0.1:${port}`);
  const { primary, log, request } = primaryWithLog();
  const req = pushes();
  let ms = 0;
  try {
    for (let i = 0, k = 0; i < count + 5; i++) {
      while (log.pendingIds < BATCH_ROWS) primary.push(req(k++));
      const batch = log.cut(BATCH_ROWS)!;
      const c0 = cpuMs();
      await replicationCallOn(client, 'bench', 'Replicate', request(batch), 30_000);
      if (i >= 5) ms += cpuMs() - c0;
      log.acked(batch);
    }
  } finally {
    client.close();
    server.forceShutdown();
  }
  return ms;
}

/** CPU ms of carrying `count` messages of `bytes` over node:http2: written as they are, received into one reused buffer. */
async function overHttp2(count: number, bytes: number): Promise<number> {
  const into = Buffer.allocUnsafe(bytes + 5);
  const server = http2.createServer({ settings: { initialWindowSize: 16 << 20 } });
  server.on('stream', (s) => {
    let at = 0;
    s.on('data', (c: Buffer) => { at += c.copy(into, at); });
    s.on('end', () => { s.respond({ ':status': 200 }); s.end(Buffer.alloc(8)); });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { settings: { initialWindowSize: 16 << 20 } });
  session.on('connect', () => session.setLocalWindowSize(16 << 20));
  const body = Buffer.allocUnsafe(bytes).fill(7);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes, 1);
  const call = () => new Promise<void>((res) => {
    const s = session.request({ ':method': 'POST', ':path': '/tessera.v1.PsReplication/Replicate', 'content-type': 'application/grpc' });
    s.on('data', () => undefined);
    s.on('end', res);
    s.write(head);
    s.end(body);
  });
  let ms = 0;
  try {
    for (let i = 0; i < count + 5; i++) {
      const c0 = cpuMs();
      await call();
      if (i >= 5) ms += cpuMs() - c0;
    }
  } finally {
    session.close();
    server.close();
  }
  return ms;
}

async function main(): Promise<void> {
  const n = argNum('pushes', 1500);
  const count = argNum('batches', 100);
  const t = stages(n);
  const perRow = (ms: number, rows: number) => Number(((1000 * ms) / rows).toFixed(3));
  const perPushedRow = (st: Record<Stage, number>) => {
    const us = Object.fromEntries(Object.entries(st).map(([k, ms]) => [k, perRow(ms, n * ROWS)])) as Record<Stage, number>;
    const log = Number((us.logged - us.plain).toFixed(3));
    return { us, log, extra: Number((log + us.cut + us.encode + us.decode + us.replay).toFixed(3)) };
  };
  const { us, log, extra } = perPushedRow(t);
  const tiers = process.argv.includes('--tier') ? tierLines(n, perPushedRow) : { lines: [], json: {} };
  const grpcUs = perRow(await overGrpc(count), count * BATCH_ROWS);
  const h2Us = perRow(await overHttp2(count, BATCH_ROWS * (8 + 4 * DIM) + 20_000), count * BATCH_ROWS);
  const lines = [
    `in one process, CPU per pushed row (${n} pushes of ${ROWS} rows, dim ${DIM}, Adagrad, batches of ${BATCH_ROWS} rows):`,
    `  push ${us.plain} µs; replication adds: the primary's log ${log}, cut ${us.cut}, encode ${us.encode}, decode ${us.decode}, the buddy's replay ${us.replay} = ${extra} µs`,
    `carrying the batches PS to PS, both ends: grpc-js ${grpcUs} µs per row; node:http2 written as is, received into a reused buffer (limit) ${h2Us} µs`,
    ...tiers.lines,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ bench: 'replication', push_us_per_row: us.plain, log_us_per_row: log, cut_us_per_row: us.cut, encode_us_per_row: us.encode,
      decode_us_per_row: us.decode, replay_us_per_row: us.replay, replication_extra_us_per_row: extra, grpc_transport_us_per_row: grpcUs, http2_limit_us_per_row: h2Us, ...tiers.json })}\n`);
  }
  for (const close of closers) await close();
  for (const dir of tierDirs) fs.rmSync(dir, { recursive: true, force: true });
}

/** The stages for a spilling table, every row resident and most rows on the tier: lines and JSON fields. */
function tierLines(n: number, perPushedRow: (st: Record<Stage, number>) => { us: Record<Stage, number>; log: number; extra: number }): { lines: string[]; json: object } {
  const lines: string[] = [];
  const json: Record<string, object> = {};
  for (const mode of ['tier-resident', 'tier-spilled'] as const) {
    const st = stages(n, mode);
    const { us, log, extra } = perPushedRow(st);
    lines.push(`${mode} (eviction.spill, rows read at the cut; ${st.spilled} rows on the primary's tier at the end): push ${us.plain} µs; replication adds: log ${log}, cut ${us.cut}, encode ${us.encode}, decode ${us.decode}, the buddy's apply ${us.replay} = ${extra} µs`);
    json[mode.replace('-', '_')] = { push_us_per_row: us.plain, log_us_per_row: log, cut_us_per_row: us.cut, encode_us_per_row: us.encode, decode_us_per_row: us.decode, apply_us_per_row: us.replay, replication_extra_us_per_row: extra, spilled_rows: st.spilled };
  }
  return { lines, json };
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
