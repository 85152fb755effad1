/**
 * npm run fuzz — seeded fuzzers, loopback only:
 * - the PS (fuzz-ps.ts): one real `tessera ps` process driven over every data-plane and admin
 *   method (fuzz-cases.ts), then 1,000 streams at once and one 100 MiB message per method,
 *   checking what must hold whatever the input and counting answers by status;
 * - files (fuzz-files.ts): hostile data files (Criteo, Avazu, `tessera gen` TSV, gzip) and job
 *   specs (YAML, JSON) through the readers and the spec loader: one clear line or a parse.
 *
 *   npm run fuzz -- [--json] [--seed N] [--cases N] [--streams N] [--huge-mb N] [--files N] [--hang-ms MS]
 *                   [--data-plane grpc-js|http2]
 *
 * Defaults: seed 23, 25,000 PS cases, 1,000 streams, 100 MiB messages, 5,000 file cases, 5 s
 * hang limit. With --json the last stdout line is one JSON object: the PS report (cases, rpcs,
 * crashes, hangs, internal, watched rows changed by refused pushes, sentinel rows unchanged, RSS
 * before/after, concurrent_streams, huge_messages, the PS's CPU once fuzzing stops, the SIGTERM
 * exit, counts by status, method and kind) with the file report under `files` (outcomes by kind,
 * stacks, long lines, hangs, crashes, the reader process's RSS before/after). Exits 1 when any
 * check failed.
 */
import { argNum } from '../bench-args';
import { loadDataPlane } from '../../src/wire/grpc-options';

/** `--data-plane grpc-js|http2`: what serves the fuzzed PS's data plane (ADR 0038); absent: TESSERA_DATA_PLANE, else grpc-js. */
function dataPlaneFlag(): string | undefined {
  const i = process.argv.indexOf('--data-plane');
  return i > 0 ? process.argv[i + 1] : undefined;
}
import { runFileFuzz } from './fuzz-files';
import { runFuzz } from './fuzz-ps';

function psLines(r: Record<string, any>): string[] {
  const streams = r.concurrent_streams;
  const huge = r.huge_messages;
  return [
    `seed ${r.seed}: ${r.cases} PS cases, ${r.rpcs} RPC messages in ${r.seconds.toFixed(1)} s`,
    `crashes ${r.crashes}, hangs > ${r.hang_limit_ms} ms ${r.hangs}, INTERNAL/UNKNOWN ${r.internal}, watched rows changed by refused pushes ${r.watched_rows_changed_by_refused_pushes}, sentinel rows unchanged ${r.sentinel_rows_unchanged}`,
    `${streams ? `${streams.streams} concurrent streams (${streams.messages} messages) in ${streams.seconds} s: ${JSON.stringify(streams.by_status)}` : 'no concurrent streams'}; `
      + `${huge ? `${huge.bytes >>> 20} MiB messages: ${JSON.stringify(huge.by_method)}` : 'no huge messages'}`,
    `RSS ${r.rss_before_mb} → ${r.rss_after_mb} MiB; CPU after fuzzing ${r.idle_cpu_pct}% of a core; one SIGTERM → exit ${r.sigterm?.code} in ${r.sigterm?.exit_ms} ms`,
    `working directory entries ${r.cwd_entries}; checkpoint-root entries that are not checkpoint ids ${r.root_entries_not_ids}`,
    `by status: ${JSON.stringify(r.by_status)}; in-band: ${JSON.stringify(r.in_band)}`,
  ];
}

function fileLines(f: Record<string, any>): string[] {
  return [
    `${f.cases} file cases in ${f.seconds.toFixed(1)} s: parsed ${f.parsed} (${f.rows_parsed} rows), refused in one line ${f.refused} (longest ${f.longest_refusal_chars} chars)`,
    `stacks ${f.stacks}, long or multi-line refusals ${f.long_lines}, non-finite features ${f.non_finite}, hangs > ${f.hang_limit_ms} ms ${f.hangs}, crashes ${f.crashes}; reader RSS ${f.rss_before_mb} → ${f.rss_after_mb} MiB`,
    `by kind: ${JSON.stringify(f.by_kind)}`,
  ];
}

/** True when any check of either report failed. */
export function fuzzFailed(r: Record<string, any>, f: Record<string, any>): boolean {
  const ps = r.crashes > 0 || r.hangs > 0 || r.internal > 0 || r.watched_rows_changed_by_refused_pushes > 0
    || !r.sentinel_rows_unchanged || r.cwd_entries > 0 || r.root_entries_not_ids > 0 || r.sigterm?.code !== 0
    || Object.values(r.huge_messages?.by_method ?? {}).some((s) => s === 'OK');
  return ps || f.stacks > 0 || f.long_lines > 0 || f.non_finite > 0 || f.hangs > 0 || f.crashes > 0;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const seed = argNum('seed', 23);
  const hangMs = argNum('hang-ms', 5_000);
  const r = await runFuzz({
    seed, cases: argNum('cases', 25_000), hangMs, maxRequestBytes: 1 << 20, streams: argNum('streams', 1_000), hugeBytes: argNum('huge-mb', 100) << 20,
    dataPlane: loadDataPlane(process.env, dataPlaneFlag()),
    progress: (done) => process.stderr.write(`fuzz: ${done} PS cases\n`),
  }) as Record<string, any>;
  const f = await runFileFuzz({ seed, cases: argNum('files', 5_000), hangMs, progress: (done) => process.stderr.write(`fuzz: ${done} file cases\n`) }) as Record<string, any>;
  const failed = fuzzFailed(r, f);
  const lines = [...psLines(r), ...fileLines(f),
    failed ? `FAILED: PS examples ${JSON.stringify(r.examples)}; PS log ${r.log}; file examples ${JSON.stringify(f.examples)}` : 'all checks passed'];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ ...r, files: f })}\n`);
  process.exitCode = failed ? 1 : 0;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  });
}
