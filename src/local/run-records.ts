/**
 * Files `tessera local` keeps in its run directory beside the logs, so a run can be scraped while
 * it trains and read after it ends:
 * - `prometheus-targets.json`: every live process's /metrics address in Prometheus's file_sd
 *   format (`file_sd_configs: [{files: [RUN_DIR/prometheus-targets.json]}]`), rewritten from
 *   etcd membership whenever a process joins, restarts on a new port or leaves;
 * - `metrics.jsonl`: the job's curves, one JSON object a line: `{"kind":"progress", at, epoch,
 *   phase, step, samples, loss, samples_per_s, push_staleness_p99}` for each new status and `{"kind":"eval", at,
 *   epoch, auc, logloss, rows}` once per evaluated epoch (the final one included, which no
 *   scrape sees: the chief exits right after it). Epochs are 1-based, as on screen.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobStatus } from '../control/job-types';
import type { Member, Membership } from '../membership/membership';

/** The file_sd file's name in the run directory. */
export const SCRAPE_TARGETS_FILE = 'prometheus-targets.json';
/** The curves file's name in the run directory. */
export const METRICS_LOG_FILE = 'metrics.jsonl';

/** One file_sd target group: the /metrics addresses to scrape. */
export interface TargetGroup {
  targets: string[];
}

/**
 * The file_sd groups for `members`: one group of every metrics address. No target labels: the
 * series carry `tessera_job`, `role` and `id` themselves, and a target label of the same name
 * would rename theirs to `exported_…`.
 */
export function targetGroups(members: readonly Member[]): TargetGroup[] {
  const targets = members.flatMap((m) => (m.metrics ? [m.metrics] : [])).sort();
  return targets.length ? [{ targets }] : [];
}

/** Writes `file` whole, atomically (a reader never sees half of it). */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Keeps RUN_DIR/prometheus-targets.json equal to the live members' metrics addresses. */
export class ScrapeTargets {
  private readonly members = new Map<string, Member>();
  private readonly waiters: { role: string; resolve: (m: Member) => void }[] = [];

  private constructor(readonly file: string) {}

  /** Starts watching `membership`; the file exists when this resolves. */
  static async start(membership: Pick<Membership, 'watch'>, runDir: string): Promise<{ targets: ScrapeTargets; stop: () => Promise<void> }> {
    const targets = new ScrapeTargets(path.join(runDir, SCRAPE_TARGETS_FILE));
    const watch = await membership.watch(undefined, (ev) => {
      const key = `${ev.role}/${ev.id}`;
      if (ev.type === 'remove') targets.members.delete(key);
      else if (ev.member) targets.members.set(key, ev.member);
      targets.write();
    });
    for (const m of watch.snapshot) targets.members.set(`${m.role}/${m.id}`, m);
    targets.write();
    return { targets, stop: () => watch.stop() };
  }

  /** The first live member of `role` that serves metrics (e.g. the chief, for its status page). */
  member(role: string): Promise<Member> {
    const now = [...this.members.values()].find((m) => m.role === role && m.metrics);
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => this.waiters.push({ role, resolve }));
  }

  private write(): void {
    writeAtomic(this.file, `${JSON.stringify(targetGroups([...this.members.values()]), null, 2)}\n`);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const m = [...this.members.values()].find((x) => x.role === this.waiters[i].role && x.metrics);
      if (m) this.waiters.splice(i, 1)[0].resolve(m);
    }
  }
}

/** Appends the job's curves to RUN_DIR/metrics.jsonl from the chief's status records. */
export class MetricsLog {
  private lastAt = '';
  private readonly evaluated = new Set<number>();

  constructor(readonly file: string) {}

  /** Records `s` if it is new: a progress line, and an eval line for a newly evaluated epoch. */
  onStatus(s: JobStatus): void {
    if (s.at === this.lastAt) return;
    this.lastAt = s.at;
    const lines = [{
      kind: 'progress', at: s.at, epoch: s.epoch + 1, phase: s.phase, step: s.step, samples: s.samples, loss: s.loss, samples_per_s: s.samplesPerS,
      push_staleness_p99: s.pushStalenessP99 ?? null,
    } as Record<string, unknown>];
    const e = s.lastEval;
    if (e && !this.evaluated.has(e.epoch)) {
      this.evaluated.add(e.epoch);
      lines.push({ kind: 'eval', at: s.at, epoch: e.epoch + 1, auc: e.auc, logloss: e.logloss, rows: e.rows });
    }
    fs.appendFileSync(this.file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  }
}
