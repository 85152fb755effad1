/**
 * bench:ps — PS pull/push throughput over gRPC between separate processes, beside Redis MGET
 * of the same rows and the raw-TCP limit for the same bytes, all measured in this run.
 *
 *   npm run bench:ps -- [--json] [--seconds S] [--inflight K] [--encoding f32|f16] [--tls [--rounds N]]
 *
 * --tls: the same PS and client with mutual TLS (a CA and certificates made for the run), in
 * the same run, alternating plaintext and TLS N times (default 3); reports every round and the
 * loss of the medians.
 *
 * Setup: two `tessera ps` processes and one client process on loopback; batches of 8,192
 * distinct ids, dim 16, Zipf-distributed over a 2^40 id space; Adagrad for pushes.
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

const BATCH = 8192;
const DIM = 16;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

type ClientFigures = Record<string, number | number[]>;

function runClient(addrs: string[], seconds: number, inflight: number, encoding: string, tlsDir?: string): Promise<ClientFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'ps-bench-client.js'), addrs.join(','), String(seconds), String(inflight), encoding, ...(tlsDir ? [tlsDir] : [])],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`bench client exited ${code}`))));
  });
}

/** Two `tessera ps` processes (with mutual TLS when `tlsDir` is given) and one client run against them. */
async function measurePs(seconds: number, inflight: number, encoding: string, tlsDir?: string): Promise<ClientFigures> {
  const tlsEnv = (i: number) => (tlsDir ? {
    TESSERA_TLS_CERT: path.join(tlsDir, `ps-${i}.crt`), TESSERA_TLS_KEY: path.join(tlsDir, `ps-${i}.key`), TESSERA_TLS_CA: path.join(tlsDir, 'ca.crt'),
  } : {});
  const ps = await Promise.all([0, 1].map((i) => spawnPs({ args: ['--id', `ps-${i}`, '--log-level', 'warn'], env: { ...process.env, ...tlsEnv(i) } })));
  try {
    return await runClient(ps.map((p) => p.addr), seconds, inflight, encoding, tlsDir);
  } finally {
    await Promise.all(ps.map((p) => p.stop()));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

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

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const seconds = Number(arg('seconds', '5'));
  const inflight = Number(arg('inflight', '4'));
  const encoding = arg('encoding', 'f32');
  const tlsDir = process.argv.includes('--tls') ? fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-tls-')) : undefined;
  if (tlsDir) await initCertDir(tlsDir, 'bench', { ps: 2, workers: 1, chiefs: 0 });
  const rounds = tlsDir ? Number(arg('rounds', '3')) : 1;
  const plain: ClientFigures[] = [];
  const secure: ClientFigures[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      plain.push(await measurePs(seconds, inflight, encoding));
      if (tlsDir) secure.push(await measurePs(seconds, inflight, encoding, tlsDir));
    }
  } finally {
    if (tlsDir) fs.rmSync(tlsDir, { recursive: true, force: true });
  }
  const client = plain[0];
  const bytesPerValue = encoding === 'f16' ? 2 : 4;
  const redis = await measureRedisMget({ rows: 1_000_000, batch: BATCH, valueBytes: DIM * bytesPerValue, seconds, pipelineDepth: inflight });
  const tcp = await measureTcpRequestResponse({ requestBytes: BATCH * 8, responseBytes: BATCH * DIM * bytesPerValue, seconds, inflight });
  const grpcStream = await measureGrpcStream({ requestBytes: BATCH * 8, responseBytes: BATCH * DIM * bytesPerValue, seconds, inflight });
  const grpcRows = grpcStream.roundTripsPerS * BATCH;
  const redisRows = 'skipped' in redis ? null : Math.max(redis.rowsPerS, redis.pipelinedRowsPerS ?? 0);
  const tcpRows = tcp.roundTripsPerS * BATCH;
  const pull = client.pull_rows_per_s as number;
  const lines = [
    `setup: 2 PS processes + 1 client process, batch ${BATCH} distinct Zipf ids over 2^40, dim ${DIM}, ${encoding} on the wire, ${inflight} requests in flight`,
    `pull:  ${(pull / 1e6).toFixed(2)} M rows/s   p50 ${(client.pull_p50_ms as number).toFixed(2)} ms   p99 ${(client.pull_p99_ms as number).toFixed(2)} ms`,
    `push:  ${((client.push_rows_per_s as number) / 1e6).toFixed(2)} M rows/s (Adagrad)`,
    'skipped' in redis ? `redis: skipped (${redis.skipped})`
      : `redis MGET: ${(redis.rowsPerS / 1e6).toFixed(2)} M rows/s (1 in flight), ${((redis.pipelinedRowsPerS ?? 0) / 1e6).toFixed(2)} M rows/s (${inflight} in flight)  → pull is ${(pull / redisRows!).toFixed(2)}×`,
    `grpc-js stream, no PS work: ${(grpcRows / 1e6).toFixed(2)} M rows/s (${grpcStream.responseMbPerS.toFixed(0)} MB/s of values)  → pull is ${((100 * pull) / grpcRows).toFixed(1)}% of it`,
    `raw TCP limit: ${(tcpRows / 1e6).toFixed(2)} M rows/s (${tcp.responseMbPerS.toFixed(0)} MB/s of values)  → pull is ${((100 * pull) / tcpRows).toFixed(1)}% of it`,
  ];
  const tls = secure.length > 0 ? tlsFigures(plain, secure) : undefined;
  if (tls) lines.push(tls.line);
  process.stdout.write(`${lines.join('\n')}\n`);
  const summary = {
    ...(tls ? tls.figures : {}),
    bench: 'ps',
    pull_rows_per_s: Math.round(pull),
    push_rows_per_s: Math.round(client.push_rows_per_s as number),
    pull_p50_ms: Number((client.pull_p50_ms as number).toFixed(3)),
    pull_p99_ms: Number((client.pull_p99_ms as number).toFixed(3)),
    redis_mget_rows_per_s: redisRows === null ? null : Math.round(redisRows),
    tcp_limit_rows_per_s: Math.round(tcpRows),
    grpc_stream_limit_rows_per_s: Math.round(grpcRows),
    encoding,
    inflight,
  };
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
