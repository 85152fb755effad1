/**
 * The push ledger of a whole local cluster (issue 17): the processes' JSON log lines, the
 * workers' last words, and the PS-side counters scraped from every live PS's /metrics, to compare
 * the pushes the workers saw acknowledged with the pushes the PS applied.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { LocalCluster } from '../../src/local/local-cluster';
import { SCRAPE_TARGETS_FILE } from '../../src/local/run-records';

/** The log lines (parsed) of every process whose log file starts with `role`. */
export function logLines(c: LocalCluster, role: string): Record<string, unknown>[] {
  return fs.readdirSync(c.opts.runDir).filter((f) => f.startsWith(`${role}-`) && f.endsWith('.log'))
    .flatMap((f) => fs.readFileSync(path.join(c.opts.runDir, f), 'utf8').split('\n'))
    .flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } });
}

/** Re-reads the logs of `role` every 200 ms until `pick` returns a value; the timeout names `what`. */
export async function awaitLogs<T>(c: LocalCluster, role: string, pick: (lines: Record<string, unknown>[]) => T | undefined, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = pick(logLines(c, role));
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; logs in ${c.opts.runDir}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves once `n` workers logged that they closed their PS client and exited (their last words). */
export async function workersExited(c: LocalCluster, n: number, timeoutMs = 60_000): Promise<void> {
  await awaitLogs(c, 'worker', (ls) => (ls.filter((l) => l.msg === 'job done; exiting').length >= n ? true : undefined), `${n} workers to exit`, timeoutMs);
}

/**
 * Sum over the live PS of each named counter (series with role="ps", and `only` in their labels
 * when given), scraped from their /metrics; tessera_ps_requests_total counts ok pushes only.
 */
export async function psCounters(c: LocalCluster, names: string[], only?: string): Promise<Map<string, number>> {
  const groups = JSON.parse(fs.readFileSync(path.join(c.opts.runDir, SCRAPE_TARGETS_FILE), 'utf8')) as { targets: string[] }[];
  const sums = new Map(names.map((n) => [n, 0]));
  for (const target of groups.flatMap((g) => g.targets)) {
    const text = await fetch(`http://${target}/metrics`).then((r) => r.text(), () => '');
    for (const line of text.split('\n')) {
      const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m || !sums.has(m[1]) || !/role="ps"/.test(m[2]) || (only && !m[2].includes(only))) continue;
      if (m[1] === 'tessera_ps_requests_total' && !/op="push",?.*outcome="ok"|outcome="ok",?.*op="push"/.test(m[2])) continue;
      sums.set(m[1], sums.get(m[1])! + Number(m[3]));
    }
  }
  return sums;
}

/**
 * Push requests the workers' clients saw acknowledged, and those still unanswered when a client
 * closed (each may have been applied, its answer never counted), summed over their close lines.
 */
export function workerAcks(c: LocalCluster): { acked: number; unanswered: number; reroutes: number; closes: Record<string, unknown>[] } {
  const closes = logLines(c, 'worker').filter((l) => l.msg === 'closed the PS connections');
  return {
    acked: closes.reduce((n, l) => n + Number(l.pushesAcked), 0),
    unanswered: closes.reduce((n, l) => n + Number(l.pushesUnanswered), 0),
    reroutes: closes.reduce((n, l) => n + Number(l.reroutes), 0),
    closes,
  };
}
