/**
 * One fuzz run against one real `tessera ps` process on loopback: start it (its working
 * directory an empty temp dir, its checkpoint root another, its disk tier a third), create the
 * fuzzed tables and a sentinel table, send the cases, and check what must hold whatever the input:
 * - no crash (the process is alive), no hang (every call ends within the hang limit);
 * - no INTERNAL or UNKNOWN status, final or in-band;
 * - a refused push aimed at the watched rows leaves them bit-identical, and the sentinel
 *   table, which no case names, is bit-identical at the end;
 * - nothing appears in the PS's working directory, and only checkpoint ids in its root;
 * then it measures RSS before and after, the CPU the PS uses once the fuzzing stops, and how
 * long one SIGTERM takes to end it.
 */
import type { DataPlane } from '../../src/wire/grpc-options';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isCheckpointId } from '../../src/checkpoint/checkpoint-id';
import { TESSERA_BIN } from '../../src/local/ps-process';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { tableSpecToWire } from '../../src/ps/table-spec-wire';
import { Encoding } from '../../src/wire/data-plane-codec';
import { PsConnection } from '../../src/wire/ps-connection';
import { FuzzRng } from './fuzz-bytes';
import { dataStream, FuzzCase, FuzzTarget, hugeMessage, nextCase, tierCases } from './fuzz-cases';
import { FuzzClient, Outcome } from './fuzz-runner';
import { FuzzTally } from './fuzz-tally';

/** What a run does. */
export interface FuzzOptions {
  seed: number;
  cases: number;
  /** a call with no status after this long is a hang */
  hangMs: number;
  /** the PS's --max-request-bytes (small, so no single case can ask for gigabytes) */
  maxRequestBytes: number;
  /** called every 1,000 cases with the count done */
  progress?: (done: number) => void;
  /** after the cases: this many streams opened at once (default 1,000; 0: none) */
  streams?: number;
  /** after the cases: one message this large to Push, PushStream, Pull and CreateTable (default 100 MiB; 0: none) */
  hugeBytes?: number;
  /** what serves the PS's data plane (`tessera ps --data-plane`; default grpc-js; ADR 0038) */
  dataPlane?: DataPlane;
}

const DIM = 8;
const TABLES: TableSpec[] = [
  ...(['sgd', 'adagrad', 'adam', 'ftrl'] as const).map((kind): TableSpec => ({
    name: `fz_${kind}`, kind: 'embedding', dim: DIM, optimizer: kind === 'ftrl' ? { kind, alpha: 0.5 } : { kind, lr: 0.5 },
  })),
  { name: 'fz_f16', kind: 'embedding', dim: DIM, weightFormat: 'f16', optimizer: { kind: 'adagrad', lr: 0.5 } },
  { name: 'dense_fz', kind: 'dense', size: 16, optimizer: { kind: 'adam', lr: 0.01 } },
];
const SENTINEL: TableSpec = { name: 'sentinel', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 } };

/** `n` distinct ids from a seeded stream (lo, hi pairs). */
function idSet(rng: FuzzRng, n: number): Uint32Array {
  return Uint32Array.from({ length: 2 * n }, () => rng.u32());
}

/** A running PS child with its address, working directory and log file. */
interface PsChild { proc: ChildProcess; addr: string; cwd: string; root: string; log: string }

async function startPs(dir: string, maxRequestBytes: number, dataPlane: DataPlane): Promise<PsChild> {
  const cwd = path.join(dir, 'cwd');
  const root = path.join(dir, 'ckpt');
  fs.mkdirSync(cwd);
  fs.mkdirSync(root);
  const log = path.join(dir, 'ps.log');
  const err = fs.openSync(log, 'a');
  // One shard: the fuzzer drives one PS and reads its one address. A disk tier (outside the
  // working directory and the checkpoint root), so CreateTable cases with eviction.spill reach it.
  const proc = spawn(process.execPath, [
    TESSERA_BIN, 'ps', '--port', '0', '--shards', '1', '--checkpoint-root', root, '--tier-dir', path.join(dir, 'tier'), '--max-request-bytes', String(maxRequestBytes),
    '--data-plane', dataPlane,
  ], { cwd, stdio: ['ignore', 'pipe', err] });
  fs.closeSync(err);
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c;
      const m = /ps listening (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`tessera ps exited (${code}) before listening; log: ${log}`)));
  });
  return { proc, addr, cwd, root, log };
}

/** Resident memory of process `pid`, MiB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** CPU seconds process `pid` has used (user + system). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Every watched row of every fuzzed embedding table, as bytes (a readOnly pull: nothing is created). */
async function rowsOf(conn: PsConnection, tables: string[], ids: Uint32Array, version: number): Promise<string> {
  const parts = await Promise.all(tables.map((table) => conn.pull({
    table, shardMapVersion: version, ids: Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength), encoding: Encoding.F32, requestId: 0, readOnly: true,
  }, 10_000)));
  return parts.map((p) => Buffer.from(p.values).toString('hex')).join('|');
}

/** Creates the tables and the rows the checks watch; returns the fuzz target. */
async function setUp(conn: PsConnection, ps: PsChild, rng: FuzzRng): Promise<FuzzTarget & { sentinelIds: Uint32Array }> {
  for (const spec of [...TABLES, SENTINEL]) await conn.adminCall('CreateTable', { spec: tableSpecToWire(spec) }, 10_000);
  const target = {
    tables: TABLES.map((t) => ({ name: t.name, dim: t.kind === 'dense' ? t.size : t.dim, dense: t.kind === 'dense' })),
    watched: idSet(rng, 16), pool: idSet(rng, 4096), shardMapVersion: 0, checkpointRoot: ps.root, sentinelIds: idSet(rng, 64),
  };
  const bytes = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (const t of TABLES.filter((x) => x.kind === 'embedding')) await conn.pull({ table: t.name, shardMapVersion: 0, ids: bytes(target.watched), encoding: Encoding.F32, requestId: 0 }, 10_000);
  await conn.pull({ table: SENTINEL.name, shardMapVersion: 0, ids: bytes(target.sentinelIds), encoding: Encoding.F32, requestId: 0 }, 10_000);
  return target;
}

/**
 * True when every hostile push of the case is known to be refused (then the watched rows must
 * not have changed): a unary push that did not answer OK; a stream that ran to its end (not
 * cancelled: messages after a cancel may still be applied unseen) with no hostile request id
 * among the answers without an error.
 */
function allHostileRefused(c: FuzzCase, o: Outcome): boolean {
  if (o.status === 'HANG') return false;
  if (c.shape === 'unary') return o.status !== 'OK';
  return o.status === 'OK' && !c.hostile!.some((id) => o.accepted.includes(id));
}

/** After a case that changed the shard map: install one that owns every bucket, a version up. */
async function reclaimShardMap(conn: PsConnection, target: FuzzTarget): Promise<void> {
  const stats = await conn.adminCall<{ shardMapVersion: number }>('Stats', {}, 10_000);
  target.shardMapVersion = stats.shardMapVersion + 1;
  await conn.adminCall('SetShardMap', { version: target.shardMapVersion, psIndex: 0, numBuckets: 4096, ownedBuckets: Buffer.alloc(0) }, 10_000);
}

/**
 * Sends the disk tier's fixed cases, then the random cases one by one, checking the watched rows
 * around hostile pushes. Resolves with the status of each tier case by label.
 */
async function drive(opts: FuzzOptions, conn: PsConnection, ps: PsChild, target: FuzzTarget, tally: FuzzTally): Promise<Record<string, string>> {
  const rng = new FuzzRng(opts.seed ^ 0x5eed);
  const client = new FuzzClient(ps.addr, opts.hangMs);
  const embedding = TABLES.filter((t) => t.kind === 'embedding').map((t) => t.name);
  let watched = await rowsOf(conn, embedding, target.watched, target.shardMapVersion);
  const tier: Record<string, string> = {};
  try {
    for (const c of tierCases()) {
      const o = await client.run(c);
      tally.add(c, o);
      tier[c.label] = o.status;
    }
    for (let i = 0; i < opts.cases && ps.proc.exitCode === null && ps.proc.signalCode === null; i++) {
      const c = nextCase(rng, target);
      const o = await client.run(c);
      tally.add(c, o);
      if (c.method === 'SetShardMap' && o.status === 'OK') await reclaimShardMap(conn, target);
      if (c.hostile?.length || (c.method === 'Restore' && o.status === 'OK')) {
        const now = await rowsOf(conn, embedding, target.watched, target.shardMapVersion);
        if (c.hostile?.length && allHostileRefused(c, o) && now !== watched) tally.watchedChanged(c);
        watched = now;
      }
      if (i % 1000 === 999) {
        for (const d of fs.readdirSync(ps.root)) fs.rmSync(path.join(ps.root, d), { recursive: true, force: true });
        opts.progress?.(i + 1);
      }
    }
  } finally {
    client.close();
  }
  return tier;
}

/**
 * After the cases: `streams` data-plane streams (garbage and hostile pushes interleaved) opened at
 * once and read to their end, then one `hugeBytes` message to each of Push, PushStream, Pull and
 * CreateTable, which the request limit must refuse. Every outcome is tallied like a case (hangs,
 * INTERNAL); the watched rows are compared before and after each part.
 */
async function loadPhase(opts: FuzzOptions, conn: PsConnection, ps: PsChild, target: FuzzTarget, tally: FuzzTally): Promise<Record<string, unknown>> {
  const client = new FuzzClient(ps.addr, opts.hangMs);
  // The streams share one PS: each may wait behind all the others, so the hang limit grows with
  // their number (hangMs per 100 streams; 50 s for 1,000 at 5 s). A deadlock still shows.
  const n = opts.streams ?? 1_000;
  const streamHangMs = opts.hangMs * Math.max(1, Math.ceil(n / 100));
  const streamClient = new FuzzClient(ps.addr, streamHangMs);
  const embedding = TABLES.filter((t) => t.kind === 'embedding').map((t) => t.name);
  const rows = () => rowsOf(conn, embedding, target.watched, target.shardMapVersion);
  const alive = () => ps.proc.exitCode === null && ps.proc.signalCode === null;
  const out: Record<string, unknown> = {};
  try {
    if (n > 0 && alive()) {
      const rng = new FuzzRng(opts.seed ^ 0x1000);
      const cases = Array.from({ length: n }, () => ({ ...dataStream(rng, target), cancel: false }));
      const before = await rows();
      const t0 = performance.now();
      const outs = await Promise.all(cases.map((c) => streamClient.run(c)));
      const seconds = (performance.now() - t0) / 1000;
      cases.forEach((c, k) => tally.add(c, outs[k]));
      if (alive() && cases.every((c, k) => !c.hostile?.length || allHostileRefused(c, outs[k])) && (await rows()) !== before) tally.watchedChanged(cases[0]);
      const byStatus: Record<string, number> = {};
      for (const o of outs) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
      out.concurrent_streams = {
        streams: n, messages: cases.reduce((a, c) => a + c.messages.length, 0), seconds: Number(seconds.toFixed(2)), hang_limit_ms: streamHangMs, by_status: byStatus,
      };
    }
    const bytes = opts.hugeBytes ?? 100 << 20;
    if (bytes > 0 && alive()) {
      const huge: Record<string, string> = {};
      for (const method of ['Push', 'PushStream', 'Pull', 'CreateTable'] as const) {
        const c = hugeMessage(target, method, bytes);
        const before = await rows();
        const o = await client.run(c);
        tally.add(c, o);
        huge[method] = o.status;
        if (!alive()) break;
        if (o.status !== 'OK' && (await rows()) !== before) tally.watchedChanged(c);
      }
      out.huge_messages = { bytes, by_method: huge, rss_after_mb: alive() ? rssMb(ps.proc.pid!) : null };
    }
  } finally {
    client.close();
    streamClient.close();
  }
  return out;
}

/** Runs the fuzzer; resolves with its report (see FuzzTally.report). */
export async function runFuzz(opts: FuzzOptions): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-fuzz-'));
  const ps = await startPs(dir, opts.maxRequestBytes, opts.dataPlane ?? 'grpc-js');
  const conn = new PsConnection({ addr: ps.addr, maxMessageBytes: 256 << 20 });
  const tally = new FuzzTally(opts.hangMs);
  const t0 = performance.now();
  let clean = false;
  try {
    const target = await setUp(conn, ps, new FuzzRng(opts.seed));
    const sentinel = await rowsOf(conn, [SENTINEL.name], target.sentinelIds, 0);
    const rssBefore = rssMb(ps.proc.pid!);
    const tier = await drive(opts, conn, ps, target, tally);
    const load = await loadPhase(opts, conn, ps, target, tally);
    const seconds = (performance.now() - t0) / 1000;
    const crashed = ps.proc.exitCode !== null || ps.proc.signalCode !== null;
    const after = crashed ? null : {
      rss: rssMb(ps.proc.pid!),
      sentinelUnchanged: (await rowsOf(conn, [SENTINEL.name], target.sentinelIds, target.shardMapVersion)) === sentinel,
    };
    conn.close();
    const idle = crashed ? null : await idleCpu(ps.proc.pid!);
    const stop = crashed ? null : await sigterm(ps.proc);
    const report = tally.report({
      seed: opts.seed, seconds, crashed, log: ps.log, rss_before_mb: rssBefore, rss_after_mb: after?.rss ?? null,
      sentinel_rows_unchanged: after?.sentinelUnchanged ?? false, idle_cpu_pct: idle, sigterm: stop, tier_cases: tier, ...load,
      cwd_entries: fs.readdirSync(ps.cwd).length, root_entries_not_ids: fs.readdirSync(ps.root).filter((d) => !isCheckpointId(d)).length,
    });
    clean = !crashed && report.hangs === 0 && report.internal === 0;
    return clean ? { ...report, log: null } : report;
  } finally {
    conn.close();
    if (ps.proc.exitCode === null && ps.proc.signalCode === null) ps.proc.kill('SIGKILL');
    // Kept (its log named in the report) when something went wrong.
    fs.rmSync(clean ? dir : ps.root, { recursive: true, force: true });
  }
}

/** The PS's CPU use (% of one core) over 2 s with no client (what a stuck loop would show). */
async function idleCpu(pid: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 2000)); // a measurement window, not an ordering of events
  return Math.round((100 * (cpuSeconds(pid) - c0)) / ((performance.now() - t0) / 1000));
}

/** Sends one SIGTERM; resolves with how long the process took to exit and its exit code. */
function sigterm(proc: ChildProcess): Promise<{ exit_ms: number; code: number | null; signal: string | null }> {
  const t0 = performance.now();
  const exited = new Promise<{ exit_ms: number; code: number | null; signal: string | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ exit_ms: Math.round(performance.now() - t0), code, signal })));
  proc.kill('SIGTERM');
  return exited;
}
