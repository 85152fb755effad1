/**
 * npm run fuzz — a seeded fuzzer driving one real `tessera ps` process on loopback over every
 * data-plane and admin method (fuzz-cases.ts), checking what must hold whatever the input
 * (fuzz-ps.ts) and counting answers by status.
 *
 *   npm run fuzz -- [--json] [--seed N] [--cases N] [--hang-ms MS]
 *
 * Defaults: seed 23, 25,000 cases, 5 s hang limit. With --json the last stdout line is one JSON
 * object: cases, rpcs (messages sent), crashes, hangs, internal (INTERNAL/UNKNOWN answers),
 * watched rows changed by refused pushes, sentinel rows unchanged, RSS before/after, the PS's
 * CPU once fuzzing stops, the SIGTERM exit time and code, and counts by status, method and kind.
 * Exits 1 when any check failed.
 */
import { argNum } from '../bench-args';
import { runFuzz } from './fuzz-ps';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const report = await runFuzz({
    seed: argNum('seed', 23), cases: argNum('cases', 25_000), hangMs: argNum('hang-ms', 5_000), maxRequestBytes: 1 << 20,
    progress: (done) => process.stderr.write(`fuzz: ${done} cases\n`),
  });
  const r = report as Record<string, any>;
  const failed = r.crashes > 0 || r.hangs > 0 || r.internal > 0 || r.watched_rows_changed_by_refused_pushes > 0
    || !r.sentinel_rows_unchanged || r.cwd_entries > 0 || r.root_entries_not_ids > 0 || r.sigterm?.code !== 0;
  const lines = [
    `seed ${r.seed}: ${r.cases} cases, ${r.rpcs} RPC messages in ${r.seconds.toFixed(1)} s`,
    `crashes ${r.crashes}, hangs > ${r.hang_limit_ms} ms ${r.hangs}, INTERNAL/UNKNOWN ${r.internal}, watched rows changed by refused pushes ${r.watched_rows_changed_by_refused_pushes}, sentinel rows unchanged ${r.sentinel_rows_unchanged}`,
    `RSS ${r.rss_before_mb} → ${r.rss_after_mb} MiB; CPU after fuzzing ${r.idle_cpu_pct}% of a core; one SIGTERM → exit ${r.sigterm?.code} in ${r.sigterm?.exit_ms} ms`,
    `working directory entries ${r.cwd_entries}; checkpoint-root entries that are not checkpoint ids ${r.root_entries_not_ids}`,
    `by status: ${JSON.stringify(r.by_status)}; in-band: ${JSON.stringify(r.in_band)}`,
    failed ? `FAILED: examples ${JSON.stringify(r.examples)}; PS log ${r.log}` : 'all checks passed',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 2;
});
