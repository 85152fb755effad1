/**
 * The chief's delta stream to serving (docs/model-format.md, "Deltas"): every `--delta-every`
 * seconds, one consistent cut (the checkpoint's cut at per-worker steps and copy-on-write, so
 * sparse rows and dense weights are of the same instant), published as the next version of the model:
 *
 *   - a full model version (ROOT/<name>/<v>/) first, and again every `fullEvery` deltas, or when
 *     a PS cannot cut an incremental on the previous cut (it restarted);
 *   - otherwise a delta (ROOT/<name>/deltas/<v>/) of the rows written and the rows evicted since
 *     the previous cut, whose parent is the previous version;
 *   - the new version announced (etcd `deltas/latest`), then deltas older than the newest full
 *     version minus `retainVersions` deleted.
 *
 * Free of transport and disk: the cut, the files and the announcement are passed in.
 */
import type { StepCutParty } from '../client/step-cut';
import type { Logger } from '../common/logger';
import type { Checkpointer, CutKind, PauseStages } from './checkpointer';

/** A full version after this many deltas, by default. */
export const DEFAULT_FULL_EVERY = 30;

/** What the cut was: when, after how long a pause (and where the pause went), at which step. */
export interface DeltaCutInfo { pauseMs: number; pause?: PauseStages; cutAt: number; step: number; samples: number }

/** The PS and file operations of a delta (delta-backend.ts provides them). */
export interface DeltaBackend {
  newId(): string;
  /** Every PS as a party to cut `id`, whose round 2 takes the snapshot of the delta. */
  parties(id: string, kind: CutKind, base: string | undefined): StepCutParty[];
  /**
   * Waits for every PS's files of cut `id`, publishes them (a full version, or a delta numbered
   * after every published version, on `parent`), removes the cut's files; returns the version.
   */
  publish(id: string, kind: 'full' | 'incremental', parent: number | undefined, info: DeltaCutInfo): Promise<{ version: number; bytes: number; rows: number; tombstones: number }>;
  /** Deletes deltas numbered below `before`. */
  prune(before: number): Promise<void>;
}

export interface DeltaPublisherDeps {
  checkpointer: Pick<Checkpointer, 'cutOnly'>;
  backend: DeltaBackend;
  /** Announces the newest version (etcd); serving watches it. */
  announce: (version: number) => Promise<void>;
  logger: Logger;
  /** A full version after this many deltas. Default {@link DEFAULT_FULL_EVERY}. */
  fullEvery?: number;
  /** Deltas kept before the newest full version, in versions. Default: `fullEvery`. */
  retainVersions?: number;
  onPublished?: (o: DeltaOutcome) => void;
}

/** One published version of the stream. */
export interface DeltaOutcome extends DeltaCutInfo {
  kind: 'full' | 'delta';
  version: number;
  parent: number | undefined;
  bytes: number;
  rows: number;
  tombstones: number;
}

export class DeltaPublisher {
  /** The previous cut (the base of the next incremental) and the version published from it. */
  private head: { cut: string; version: number } | undefined;
  private sinceFull = 0;
  private inFlight: Promise<DeltaOutcome> | undefined;

  constructor(private readonly deps: DeltaPublisherDeps) {}

  /**
   * Cuts (a cut at per-worker steps: no worker stops) and resolves once every PS has cut, with
   * `written`, which settles once the version is on disk and announced. One at a time: a
   * publish waits for the previous one to be written. A PS that restarted since the previous cut
   * has no base for an incremental: the stream resyncs with a full version.
   */
  async publish(canCut?: () => boolean, verify?: () => Promise<boolean>): Promise<{ pauseMs: number; written: Promise<DeltaOutcome> }> {
    await this.inFlight?.catch(() => undefined);
    const { backend } = this.deps;
    const full = this.head === undefined || this.sinceFull >= (this.deps.fullEvery ?? DEFAULT_FULL_EVERY);
    const kind: CutKind = full ? 'full' : 'incremental';
    const cut = await this.deps.checkpointer.cutOnly({
      id: backend.newId(), kind, base: this.head?.cut, newId: () => backend.newId(),
      parties: (id, k, base) => backend.parties(id, k, base),
    }, canCut, verify);
    const info: DeltaCutInfo = { pauseMs: cut.pauseMs, pause: cut.pause, cutAt: cut.cutAt, step: cut.step, samples: cut.samples };
    const written = this.write(cut.id, cut.kind, info);
    this.inFlight = written;
    written.catch(() => undefined); // the caller awaits or logs it; never unhandled
    return { pauseMs: info.pauseMs, written };
  }

  /** Resolves once no version is being written. */
  async settled(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }

  private async write(id: string, kind: CutKind, info: DeltaCutInfo): Promise<DeltaOutcome> {
    const { backend, logger } = this.deps;
    const parent = kind === 'incremental' ? this.head?.version : undefined;
    let out: Awaited<ReturnType<DeltaBackend['publish']>>;
    try {
      out = await backend.publish(id, kind, parent, info);
    } catch (err) {
      // The next publish starts a new chain: serving resynchronises from that full version.
      this.head = undefined;
      throw err;
    }
    this.head = { cut: id, version: out.version };
    this.sinceFull = kind === 'full' ? 0 : this.sinceFull + 1;
    await this.deps.announce(out.version);
    if (kind === 'full') {
      const before = out.version - (this.deps.retainVersions ?? this.deps.fullEvery ?? DEFAULT_FULL_EVERY);
      await backend.prune(before).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'deleting old deltas failed'));
    }
    const outcome: DeltaOutcome = { ...info, ...out, kind: kind === 'full' ? 'full' : 'delta', parent };
    logger.info(outcome, kind === 'full' ? 'published full model version for the delta stream' : 'published delta');
    this.deps.onPublished?.(outcome);
    return outcome;
  }
}
