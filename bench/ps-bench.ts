/**
 * bench:ps — PS pull/push throughput over gRPC between separate processes, beside Redis MGET
 * of the same rows and the raw-TCP limit for the same bytes, all measured in this run.
 *
 *   npm run bench:ps -- [--json] [--seconds S] [--inflight K] [--encoding f32|f16]
 *                       [--staleness ROUNDS] [--staleness-sample-every N] [--tls [--rounds N]]
 *                       [--shards K,K... [--clients C] [--shard-rounds R]] [--planes N]
 *                       [--replication R] [--native N]
 *
 * --tls: the same PS and client with mutual TLS (a CA and certificates made for the run), in
 * the same run, alternating plaintext and TLS N times (default 3); reports every round and the
 * loss of the medians.
 *
 * --planes N: N rounds of the data plane A/B (ADR 0038), grpc-js then node:http2, each on fresh PS
 * processes serving that plane with a client using it; reports each round's rows/s and CPU ms
 * per 1,000 rows (client, and both PS summed), the medians' ratio and each plane's Redis multiple.
 *
 * --native N: N rounds of the native-kernel A/B (ADR 0041) on the http2 plane: the PS and the
 * client with the data plane's JavaScript loops (TESSERA_NATIVE_ROWS=0), then with the native
 * addon, each on fresh PS processes; the same figures as --planes, and native over JavaScript.
 *
 * --shards 1,2: after the main figures, one `tessera ps --shards K` process per K in the list,
 * driven by C client processes at once (default 2) against all its shards; R rounds (default 1)
 * in the list's order. Reports each K's summed pull and push rows/s and their ratio to the
 * first K: how a PS process scales with the shard threads it runs on this machine's cores.
 *
 * --replication R: R alternating rounds on fresh PS pairs, `ps.replication` none then buddy
 * (each PS the other's buddy): pull and push rows/s, PS CPU per row, the lag at the end of a
 * buddy round and the time to promote the replica after kill -9 (bench/replication-rounds.ts).
 *
 * Setup: two `tessera ps` processes and one client process on loopback, on the data plane
 * `tessera` runs by default (http2; TESSERA_DATA_PLANE=grpc-js for the other); batches of 8,192
 * distinct ids, dim 16, Zipf-distributed over a 2^40 id space; Adagrad for pushes.
 *
 * `--staleness R` adds the cost of push-staleness sampling: after the main figures, R rounds of
 * the client with sampling off then on (one pull and one push in N carry row versions, N from
 * `--staleness-sample-every`, default 16), alternated against the same PS so that load from
 * other processes on the machine falls on both; every round's figures and the medians' ratio.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initCertDir } from '../src/common/cert-issuer';
import { spawnPs } from '../src/local/ps-process';
import { measureRedisMget } from './peers/redis-peer';
import { measureGrpcStream } from './peers/grpc-echo';
import { measureTcpRequestResponse } from './peers/tcp-echo';
import { replicationRounds } from './replication-rounds';
import { loadDataPlane } from '../src/wire/grpc-options';

const BATCH = 8192;
const DIM = 16;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

type ClientFigures = Record<string, number | number[]>;

/** One client process against `addrs`; `sampleEvery` > 0 samples push staleness, `tlsDir` dials with mutual TLS. */
function runClient(addrs: string[], seconds: number, inflight: number, encoding: string, opts: { sampleEvery?: number; tlsDir?: string; plane?: PlaneEnv } = {}): Promise<ClientFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'ps-bench-client.js'), addrs.join(','), String(seconds), String(inflight), encoding,
      String(opts.sampleEvery ?? 0), ...(opts.tlsDir ? [opts.tlsDir] : [])],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...opts.plane } });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`bench client exited ${code}`))));
  });
}

/** What a client of a data-plane round is told: the plane (client and PS alike) and the PS pids whose CPU it reports. */
type PlaneEnv = { TESSERA_DATA_PLANE: string; BENCH_PS_PIDS: string };

/**
 * Two `tessera ps` processes (with mutual TLS when `tlsDir` is given, serving the data plane on
 * `dataPlane`: by default the one `tessera ps` and `tessera worker` run, http2 unless
 * TESSERA_DATA_PLANE says otherwise), `run` against their addresses, then stopped.
 */
async function withPs<T>(tlsDir: string | undefined, run: (addrs: string[], plane: PlaneEnv) => Promise<T>,
  dataPlane: string = loadDataPlane(process.env, undefined)): Promise<T> {
  const tlsEnv = (i: number) => (tlsDir ? {
    TESSERA_TLS_CERT: path.join(tlsDir, `ps-${i}.crt`), TESSERA_TLS_KEY: path.join(tlsDir, `ps-${i}.key`), TESSERA_TLS_CA: path.join(tlsDir, 'ca.crt'),
  } : {});
  const ps = await Promise.all([0, 1].map((i) => spawnPs({ args: ['--id', `ps-${i}`, '--log-level', 'warn'], env: { ...process.env, ...tlsEnv(i), TESSERA_DATA_PLANE: dataPlane } })));
  try {
    return await run(ps.map((p) => p.addr), { TESSERA_DATA_PLANE: dataPlane, BENCH_PS_PIDS: ps.map((p) => p.proc.pid).join(',') });
  } finally {
    await Promise.all(ps.map((p) => p.stop()));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

type StalenessRound = { sampling: 'off' | 'on'; pull_rows_per_s: number; push_rows_per_s: number; pull_p99_ms: number; rows_measured: number };

/** `rounds` alternating off/on client runs against the same PS (see the header). */
async function stalenessRounds(addrs: string[], rounds: number, every: number, seconds: number, inflight: number, encoding: string): Promise<StalenessRound[]> {
  const out: StalenessRound[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const sampling of ['off', 'on'] as const) {
      const c = await runClient(addrs, seconds, inflight, encoding, { sampleEvery: sampling === 'on' ? every : 0 });
      out.push({
        sampling, pull_rows_per_s: Math.round(c.pull_rows_per_s as number), push_rows_per_s: Math.round(c.push_rows_per_s as number),
        pull_p99_ms: Number((c.pull_p99_ms as number).toFixed(3)), rows_measured: c.staleness_rows_measured as number,
      });
    }
  }
  return out;
}

/** Report lines for the staleness rounds: each round, then on/off of the medians. */
function stalenessLines(rounds: StalenessRound[], every: number): { lines: string[]; pullRatio: number; pushRatio: number } {
  const med = (s: 'off' | 'on', k: 'pull_rows_per_s' | 'push_rows_per_s') => median(rounds.filter((r) => r.sampling === s).map((r) => r[k]));
  const pullRatio = med('on', 'pull_rows_per_s') / med('off', 'pull_rows_per_s');
  const pushRatio = med('on', 'push_rows_per_s') / med('off', 'push_rows_per_s');
  // Each round's on/off: load from elsewhere drifts over minutes, so adjacent runs compare best.
  const paired = (k: 'pull_rows_per_s' | 'push_rows_per_s') => median(Array.from({ length: rounds.length >> 1 }, (_, i) => rounds[2 * i + 1][k] / rounds[2 * i][k]));
  const pct = (x: number) => `${x >= 1 ? '+' : ''}${(100 * (x - 1)).toFixed(1)}%`;
  const lines = rounds.map((r, i) => `staleness ${r.sampling.padEnd(3)} (round ${(i >> 1) + 1}): pull ${(r.pull_rows_per_s / 1e6).toFixed(2)} M rows/s`
    + `  p99 ${r.pull_p99_ms.toFixed(2)} ms  push ${(r.push_rows_per_s / 1e6).toFixed(2)} M rows/s  rows measured ${r.rows_measured}`);
  lines.push(`staleness sampling 1 in ${every}, on/off: of the medians pull ${pct(pullRatio)}, push ${pct(pushRatio)};`
    + ` median of each round's on/off pull ${pct(paired('pull_rows_per_s'))}, push ${pct(paired('push_rows_per_s'))}`);
  return { lines, pullRatio, pushRatio };
}

/** Every round's pull and push rows/s, plaintext and TLS, and the loss of TLS's medians. */
function tlsFigures(plain: ClientFigures[], secure: ClientFigures[]) {
  const col = (runs: ClientFigures[], k: string) => runs.map((r) => Math.round(r[k] as number));
  const f = {
    plain_pull: col(plain, 'pull_rows_per_s'), tls_pull: col(secure, 'pull_rows_per_s'),
    plain_push: col(plain, 'push_rows_per_s'), tls_push: col(secure, 'push_rows_per_s'),
  };
  const loss = (a: number[], b: number[]) => Number((100 * (1 - median(b) / median(a))).toFixed(1));
  const figures = {
    tls_rounds: plain.length, plain_pull_rows_per_s_rounds: f.plain_pull, tls_pull_rows_per_s_rounds: f.tls_pull,
    plain_push_rows_per_s_rounds: f.plain_push, tls_push_rows_per_s_rounds: f.tls_push,
    tls_pull_loss_pct: loss(f.plain_pull, f.tls_pull), tls_push_loss_pct: loss(f.plain_push, f.tls_push),
  };
  const m = (xs: number[]) => xs.map((x) => (x / 1e6).toFixed(2)).join(' ');
  const line = `mutual TLS, ${plain.length} alternating rounds: pull plain ${m(f.plain_pull)} / tls ${m(f.tls_pull)} M rows/s (loss ${figures.tls_pull_loss_pct}% of medians); `
    + `push plain ${m(f.plain_push)} / tls ${m(f.tls_push)} M rows/s (loss ${figures.tls_push_loss_pct}%)`;
  return { figures, line };
}

/**
 * The client figures: the main run and the staleness rounds against one pair of PS, then with
 * --tls the alternating plaintext/TLS rounds, each on fresh PS processes so drifting load falls on both.
 */
async function measureClients(seconds: number, inflight: number, encoding: string, every: number) {
  const tlsDir = process.argv.includes('--tls') ? fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-tls-')) : undefined;
  const plain: ClientFigures[] = [];
  const secure: ClientFigures[] = [];
  try {
    const { client, staleness } = await withPs(undefined, async (addrs, plane) => ({
      client: await runClient(addrs, seconds, inflight, encoding, { plane }),
      staleness: await stalenessRounds(addrs, Number(arg('staleness', '0')), every, seconds, inflight, encoding),
    }));
    if (tlsDir) await initCertDir(tlsDir, 'bench', { ps: 2, workers: 1, chiefs: 0 });
    for (let r = 0; tlsDir && r < Number(arg('rounds', '3')); r++) {
      plain.push(await withPs(undefined, (addrs) => runClient(addrs, seconds, inflight, encoding)));
      secure.push(await withPs(tlsDir, (addrs) => runClient(addrs, seconds, inflight, encoding, { tlsDir })));
    }
    return { client, staleness, plain, secure };
  } finally {
    if (tlsDir) fs.rmSync(tlsDir, { recursive: true, force: true });
  }
}

/** The client's CPU figures (ms per 1,000 rows), as ps-bench-client.ts reports them. */
const CPU_KEYS = ['client_pull_cpu_ms_per_1k_rows', 'ps_pull_cpu_ms_per_1k_rows', 'client_push_cpu_ms_per_1k_rows', 'ps_push_cpu_ms_per_1k_rows'];

/** One round of an A/B (data planes, or JavaScript against native kernels): the variant and its client's figures. */
type PlaneRound = { plane: string; round: number; figures: ClientFigures };

/** One variant of an A/B: its label, the data plane, and TESSERA_NATIVE_ROWS for the PS and the client (absent: as this process has it). */
type Variant = { label: string; plane: string; nativeRows?: '0' | '1' };

const PLANE_AB: [Variant, Variant] = [{ label: 'grpc-js', plane: 'grpc-js' }, { label: 'http2', plane: 'http2' }];
const NATIVE_AB: [Variant, Variant] = [{ label: 'js', plane: 'http2', nativeRows: '0' }, { label: 'native', plane: 'http2', nativeRows: '1' }];

/** `rounds` rounds of the two variants in turn, each on fresh PS processes (see the header). */
async function abRounds(variants: [Variant, Variant], rounds: number, seconds: number, inflight: number, encoding: string): Promise<PlaneRound[]> {
  const out: PlaneRound[] = [];
  const was = process.env.TESSERA_NATIVE_ROWS;
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const v of variants) {
        if (v.nativeRows !== undefined) process.env.TESSERA_NATIVE_ROWS = v.nativeRows; // inherited by the PS and client processes
        out.push({ plane: v.label, round, figures: await withPs(undefined, (addrs, env) => runClient(addrs, seconds, inflight, encoding, { plane: env }), v.plane) });
      }
    }
  } finally {
    if (was === undefined) delete process.env.TESSERA_NATIVE_ROWS;
    else process.env.TESSERA_NATIVE_ROWS = was;
  }
  return out;
}

/**
 * Report lines and figures of an A/B: each round, then the medians of each variant and b over a,
 * beside Redis. JSON keys are `<key(label)>_pull_redis_multiple` and so on.
 */
function abLines(rounds: PlaneRound[], redisRows: number | null, [a, b]: [Variant, Variant], what: string, key: (label: string) => string) {
  const f = (x: number | number[]) => (x as number);
  const lines = rounds.map(({ plane, round, figures: r }) => `${what} ${plane.padEnd(7)} (round ${round}): pull ${(f(r.pull_rows_per_s) / 1e6).toFixed(2)} M rows/s, push ${(f(r.push_rows_per_s) / 1e6).toFixed(2)} M rows/s;`
    + ` CPU ms per 1k rows pull client ${f(r.client_pull_cpu_ms_per_1k_rows).toFixed(3)} + PS ${f(r.ps_pull_cpu_ms_per_1k_rows).toFixed(3)},`
    + ` push client ${f(r.client_push_cpu_ms_per_1k_rows).toFixed(3)} + PS ${f(r.ps_push_cpu_ms_per_1k_rows).toFixed(3)}`);
  const keys = ['pull_rows_per_s', 'push_rows_per_s', ...CPU_KEYS];
  const med = (plane: string) => Object.fromEntries(keys.map((k) => [k, Number(median(rounds.filter((r) => r.plane === plane).map((r) => f(r.figures[k]))).toFixed(4))]));
  const medians = { [a.label]: med(a.label), [b.label]: med(b.label) };
  const ratio = (k: string) => Number((medians[b.label][k] / medians[a.label][k]).toFixed(3));
  const redisX = (label: string, k: string) => (redisRows ? Number((medians[label][k] / redisRows).toFixed(2)) : null);
  lines.push(`${b.label} over ${a.label} (medians): pull ${ratio('pull_rows_per_s')}×, push ${ratio('push_rows_per_s')}×;`
    + ` CPU per row pull client ${ratio('client_pull_cpu_ms_per_1k_rows')}×, PS ${ratio('ps_pull_cpu_ms_per_1k_rows')}×;`
    + ` push client ${ratio('client_push_cpu_ms_per_1k_rows')}×, PS ${ratio('ps_push_cpu_ms_per_1k_rows')}×`);
  if (redisRows) {
    lines.push(`Redis MGET multiple (medians): pull ${a.label} ${redisX(a.label, 'pull_rows_per_s')}×, ${b.label} ${redisX(b.label, 'pull_rows_per_s')}×;`
      + ` push ${a.label} ${redisX(a.label, 'push_rows_per_s')}×, ${b.label} ${redisX(b.label, 'push_rows_per_s')}×`);
  }
  const multiples = Object.fromEntries([a, b].flatMap((v) => ['pull', 'push'].map((op) => [`${key(v.label)}_${op}_redis_multiple`, redisX(v.label, `${op}_rows_per_s`)])));
  return { lines, rounds, medians, multiples };
}

type ShardRound = { shards: number; round: number; pull_rows_per_s: number; push_rows_per_s: number };

/** One `tessera ps --shards K` process per K per round, `clients` client processes at once against it (see the header). */
async function shardRounds(list: number[], clients: number, rounds: number, seconds: number, inflight: number, encoding: string): Promise<ShardRound[]> {
  const out: ShardRound[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const shards of list) {
      const ps = await spawnPs({ shards, args: ['--id', 'ps-0', '--log-level', 'warn'] });
      try {
        const figures = await Promise.all(Array.from({ length: clients }, () => runClient([...ps.addrs], seconds, inflight, encoding)));
        const sum = (k: string) => Math.round(figures.reduce((a, f) => a + (f[k] as number), 0));
        out.push({ shards, round, pull_rows_per_s: sum('pull_rows_per_s'), push_rows_per_s: sum('push_rows_per_s') });
      } finally {
        await ps.stop();
      }
    }
  }
  return out;
}

/** Report lines and figures for the shard rounds: each round, then each K's median over the first K's. */
function shardLines(rounds: ShardRound[], clients: number) {
  const list = [...new Set(rounds.map((r) => r.shards))];
  const med = (k: number, f: 'pull_rows_per_s' | 'push_rows_per_s') => median(rounds.filter((r) => r.shards === k).map((r) => r[f]));
  const lines = rounds.map((r) => `--shards ${r.shards} (round ${r.round}, ${clients} client processes): pull ${(r.pull_rows_per_s / 1e6).toFixed(2)} M rows/s  push ${(r.push_rows_per_s / 1e6).toFixed(2)} M rows/s`);
  const scaling = Object.fromEntries(list.map((k) => [k, {
    pull: Number((med(k, 'pull_rows_per_s') / med(list[0], 'pull_rows_per_s')).toFixed(3)),
    push: Number((med(k, 'push_rows_per_s') / med(list[0], 'push_rows_per_s')).toFixed(3)),
  }]));
  // Each round's K over the first K: load from elsewhere drifts over minutes, so runs next to each other compare best.
  const paired = (k: number, f: 'pull_rows_per_s' | 'push_rows_per_s') => Number(median([...new Set(rounds.map((r) => r.round))].map((round) => {
    const at = (kk: number) => rounds.find((r) => r.round === round && r.shards === kk)![f];
    return at(k) / at(list[0]);
  })).toFixed(3));
  const pairedScaling = Object.fromEntries(list.map((k) => [k, { pull: paired(k, 'pull_rows_per_s'), push: paired(k, 'push_rows_per_s') }]));
  for (const k of list.slice(1)) {
    lines.push(`--shards ${k} over --shards ${list[0]}: of the medians pull ${scaling[k].pull}×, push ${scaling[k].push}×;`
      + ` median of each round's ratio pull ${pairedScaling[k].pull}×, push ${pairedScaling[k].push}×`);
  }
  return { lines, figures: { shard_clients: clients, shard_rounds: rounds, shard_scaling: scaling, shard_scaling_paired: pairedScaling } };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const seconds = Number(arg('seconds', '5'));
  const inflight = Number(arg('inflight', '4'));
  const encoding = arg('encoding', 'f32');
  const every = Number(arg('staleness-sample-every', '16'));
  const { client, staleness, plain, secure } = await measureClients(seconds, inflight, encoding, every);
  const planes = await abRounds(PLANE_AB, Number(arg('planes', '0')), seconds, inflight, encoding);
  const natives = await abRounds(NATIVE_AB, Number(arg('native', '0')), seconds, inflight, encoding);
  const bytesPerValue = encoding === 'f16' ? 2 : 4;
  const redis = await measureRedisMget({ rows: 1_000_000, batch: BATCH, valueBytes: DIM * bytesPerValue, seconds, pipelineDepth: inflight });
  const tcp = await measureTcpRequestResponse({ requestBytes: BATCH * 8, responseBytes: BATCH * DIM * bytesPerValue, seconds, inflight });
  const grpcStream = await measureGrpcStream({ requestBytes: BATCH * 8, responseBytes: BATCH * DIM * bytesPerValue, seconds, inflight });
  const grpcRows = grpcStream.roundTripsPerS * BATCH;
  const redisRows = 'skipped' in redis ? null : Math.max(redis.rowsPerS, redis.pipelinedRowsPerS ?? 0);
  const tcpRows = tcp.roundTripsPerS * BATCH;
  const pull = client.pull_rows_per_s as number;
  const lines = [
    `setup: 2 PS processes + 1 client process, ${String(client.data_plane)} data plane, batch ${BATCH} distinct Zipf ids over 2^40, dim ${DIM}, ${encoding} on the wire, ${inflight} requests in flight`,
    `pull:  ${(pull / 1e6).toFixed(2)} M rows/s   p50 ${(client.pull_p50_ms as number).toFixed(2)} ms   p99 ${(client.pull_p99_ms as number).toFixed(2)} ms`,
    `push:  ${((client.push_rows_per_s as number) / 1e6).toFixed(2)} M rows/s (Adagrad)`,
    'skipped' in redis ? `redis: skipped (${redis.skipped})`
      : `redis MGET: ${(redis.rowsPerS / 1e6).toFixed(2)} M rows/s (1 in flight), ${((redis.pipelinedRowsPerS ?? 0) / 1e6).toFixed(2)} M rows/s (${inflight} in flight)  → pull is ${(pull / redisRows!).toFixed(2)}×`,
    `grpc-js stream, no PS work: ${(grpcRows / 1e6).toFixed(2)} M rows/s (${grpcStream.responseMbPerS.toFixed(0)} MB/s of values)  → pull is ${((100 * pull) / grpcRows).toFixed(1)}% of it`,
    `raw TCP limit: ${(tcpRows / 1e6).toFixed(2)} M rows/s (${tcp.responseMbPerS.toFixed(0)} MB/s of values)  → pull is ${((100 * pull) / tcpRows).toFixed(1)}% of it`,
  ];
  const tls = secure.length > 0 ? tlsFigures(plain, secure) : undefined;
  if (tls) lines.push(tls.line);
  const st = staleness.length > 0 ? stalenessLines(staleness, every) : null;
  if (st) lines.push(...st.lines);
  const pl = planes.length > 0 ? abLines(planes, redisRows, PLANE_AB, 'data plane', (l) => l.replace('-', '')) : null;
  if (pl) lines.push(...pl.lines);
  const na = natives.length > 0 ? abLines(natives, redisRows, NATIVE_AB, 'http2 kernels', (l) => `http2_${l}`) : null;
  if (na) lines.push(...na.lines);
  const shardList = arg('shards', '').split(',').filter((x) => x !== '').map(Number);
  const clients = Number(arg('clients', '2'));
  const sh = shardList.length > 0 ? shardLines(await shardRounds(shardList, clients, Number(arg('shard-rounds', '1')), seconds, inflight, encoding), clients) : null;
  if (sh) lines.push(...sh.lines);
  const rep = Number(arg('replication', '0')) > 0 ? await replicationRounds(Number(arg('replication', '0')), seconds,
    (addrs, pids) => runClient(addrs, seconds, inflight, encoding, { plane: { TESSERA_DATA_PLANE: loadDataPlane(process.env, undefined), BENCH_PS_PIDS: pids.join(',') } })) : null;
  if (rep) lines.push(...rep.lines);
  process.stdout.write(`${lines.join('\n')}\n`);
  const summary = {
    ...(tls ? tls.figures : {}),
    bench: 'ps',
    data_plane: String(client.data_plane), // the client reports it (ps-bench-client.ts)
    pull_rows_per_s: Math.round(pull),
    push_rows_per_s: Math.round(client.push_rows_per_s as number),
    pull_p50_ms: Number((client.pull_p50_ms as number).toFixed(3)),
    pull_p99_ms: Number((client.pull_p99_ms as number).toFixed(3)),
    // CPU ms per 1,000 rows, the client and both PS: the figure to compare on a loaded machine.
    ...Object.fromEntries(CPU_KEYS.map((k) => [k, client[k] === null ? null : Number((client[k] as number).toFixed(4))])),
    redis_mget_rows_per_s: redisRows === null ? null : Math.round(redisRows),
    tcp_limit_rows_per_s: Math.round(tcpRows),
    grpc_stream_limit_rows_per_s: Math.round(grpcRows),
    encoding,
    inflight,
    ...(sh ? sh.figures : {}),
    ...(pl ? { plane_rounds: pl.rounds, plane_medians: pl.medians, ...pl.multiples } : {}),
    ...(na ? { native_rounds: na.rounds, native_medians: na.medians, ...na.multiples } : {}),
    ...(rep ? rep.figures : {}),
    ...(st ? { staleness_sample_every: every, staleness_rounds: staleness, staleness_pull_ratio: Number(st.pullRatio.toFixed(4)), staleness_push_ratio: Number(st.pushRatio.toFixed(4)) } : {}),
  };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
