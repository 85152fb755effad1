/**
 * What the chief's status page (`/` on its metrics port) shows beyond the etcd record: the
 * curves since this chief started leading (a ring of status points, with samples/s per worker
 * from the rows each worker committed), the checkpoints it wrote, and the PS tables' sizes asked
 * of the PS on each request. `/api/status` serves `record()`; free of HTTP.
 *
 * ```ts
 * const page = new StatusPage({ readers, tables: () => model.client.admin.stats() });
 * chief = new Chief({ ..., onStatus: (s) => page.onStatus(s) });
 * res.end(JSON.stringify(await page.record()));
 * ```
 */
import type { JobStatus } from '../control/job-types';
import type { CheckpointOutcome } from './checkpointer';
import { statusRecord, statusSources, StatusReaders } from './status-record';

/** Points kept for the curves: at 2 a second, over 15 minutes. */
export const HISTORY_POINTS = 2_000;
/**
 * Per-worker samples/s is measured over at least this long: workers commit their rows about once
 * a second and statuses come twice a second, so shorter windows alternate between 0 and double.
 */
export const WORKER_RATE_WINDOW_MS = 3_000;
/** Checkpoints kept in the list. */
export const CHECKPOINTS_KEPT = 50;

/** One point of the curves. */
export interface HistoryPoint {
  /** ms since the Unix epoch */
  t: number;
  epoch: number;
  step: number;
  samples: number;
  loss: number | null;
  samples_per_s: number;
  /** samples/s per worker over the last WORKER_RATE_WINDOW_MS or more (none just after an epoch change) */
  workers: Record<string, number>;
}

/** One PS table as the page lists it (summed over PS). */
export interface TableRow {
  name: string;
  rows: number;
  bytes: number;
  ps: number;
}

/** The PS tables, per PS (PsAdminClient.stats). */
export type TableStatsSource = () => Promise<{ tables: { name: string; rows: number | string; bytes: number | string }[] }[]>;

export interface StatusPageDeps {
  readers: StatusReaders;
  /** The PS's table stats; absent (or failing) while no PS is attached. */
  tables?: TableStatsSource;
  /** Longest wait for the PS's stats, ms. Default 2000. */
  tablesTimeoutMs?: number;
}

export class StatusPage {
  private readonly history: HistoryPoint[] = [];
  private readonly checkpoints: Omit<CheckpointOutcome, 'path'>[] = [];
  private lastAt = '';
  /** Rows per worker at recent statuses of this epoch, oldest first (for the per-worker rates). */
  private marks: { epoch: number; t: number; workerSamples: Record<string, number> }[] = [];

  constructor(private readonly deps: StatusPageDeps) {}

  /** Adds a point for a new status (call it with every status the chief publishes). */
  onStatus(s: JobStatus): void {
    if (this.lastAt === s.at) return;
    this.lastAt = s.at;
    const t = Date.parse(s.at);
    this.marks = this.marks.filter((m) => m.epoch === s.epoch);
    // The newest mark at least a window old is the base; older ones are no longer needed.
    let base = -1;
    for (let i = 0; i < this.marks.length; i++) if (t - this.marks[i].t >= WORKER_RATE_WINDOW_MS) base = i;
    const workers: Record<string, number> = {};
    if (base >= 0) {
      const from = this.marks[base];
      for (const [id, rows] of Object.entries(s.workerSamples ?? {})) {
        const before = from.workerSamples[id] ?? 0;
        if (rows >= before) workers[id] = (rows - before) / ((t - from.t) / 1000);
      }
      this.marks.splice(0, base);
    }
    this.marks.push({ epoch: s.epoch, t, workerSamples: { ...(s.workerSamples ?? {}) } });
    this.history.push({ t, epoch: s.epoch + 1, step: s.step, samples: s.samples, loss: s.loss, samples_per_s: s.samplesPerS, workers });
    if (this.history.length > HISTORY_POINTS) this.history.splice(0, this.history.length - HISTORY_POINTS);
  }

  /** Records a checkpoint written. */
  onCheckpoint(o: CheckpointOutcome): void {
    const { path: _path, ...rest } = o;
    this.checkpoints.push({ ...rest, epoch: o.epoch + 1 });
    if (this.checkpoints.length > CHECKPOINTS_KEPT) this.checkpoints.shift();
  }

  /** The status record plus the curves, the checkpoints and the tables. */
  async record() {
    const [sources, tables] = await Promise.all([statusSources(this.deps.readers), this.tables()]);
    return { ...statusRecord(sources), history: this.history, checkpoints: this.checkpoints, tables };
  }

  private async tables(): Promise<TableRow[] | null> {
    if (!this.deps.tables) return null;
    const timeoutMs = this.deps.tablesTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const stats = await Promise.race([
      this.deps.tables(),
      new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); }),
    ]).catch(() => null).finally(() => clearTimeout(timer));
    if (!stats) return null;
    const byName = new Map<string, TableRow>();
    for (const ps of stats) {
      for (const t of ps.tables) {
        const row = byName.get(t.name) ?? { name: t.name, rows: 0, bytes: 0, ps: 0 };
        row.rows += Number(t.rows);
        row.bytes += Number(t.bytes);
        row.ps++;
        byName.set(t.name, row);
      }
    }
    return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}
