/**
 * `tessera serve --follow`: keeps each model's served version at the head of the chief's delta
 * stream (docs/model-format.md "Deltas"). The registry loads full versions as usual; after each
 * scan the follower applies, per model, the deltas after the newest loaded full version, in
 * version order and each once, every one building a new version object swapped in whole
 * (delta-apply.ts), so readers see V or V+1.
 *
 * A delta that cannot be applied (a gap in the parent chain, a checksum or size mismatch, a spec
 * fingerprint change) is refused: the last good version keeps serving, the refusal is counted by
 * reason and shown in status, and the chain is not tried again until a newer full version is
 * loaded, from which the follower resynchronises. A restarted server does the same from scratch:
 * the newest full version, then the deltas after it.
 */
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { deltasDir, listDeltas, readDelta, readDeltaManifest } from '../export/delta-dir';
import { applyDelta } from './delta-apply';
import type { LoadedVersion } from './loaded-version';
import type { ServedModel } from './served-model';

/** Why a delta was refused (the metric's `reason` label). */
export type DeltaRefusal = 'gap' | 'checksum' | 'spec';

/** What the follower reports (metrics, tests). */
export interface FollowEvents {
  onApplied?(model: string, v: LoadedVersion, info: { rows: number; tombstones: number; freshnessSeconds: number; applySeconds: number }): void;
  onRefused?(model: string, version: number, reason: DeltaRefusal, message: string): void;
}

/** Where a model's stream stands, as status shows it. */
export interface FollowState {
  /** the full version the served chain starts from */
  base: number | null;
  /** the newest version applied (the base itself before any delta) */
  head: number | null;
  applied: number;
  refused: number;
  /** the refusal that stopped the chain (cleared by the next full version), or null */
  error: { version: number; reason: DeltaRefusal; message: string; at: string } | null;
}

/** The follower's dependencies. */
export interface FollowerDeps {
  root: string;
  logger: Logger;
  events?: FollowEvents;
}

function reasonOf(err: unknown): DeltaRefusal {
  return err instanceof TesseraError && err.code === ERROR_CODES.INCOMPATIBLE_SPEC ? 'spec' : 'checksum';
}

/** Applies each model's deltas; see the file comment. */
export class DeltaFollower {
  private readonly states = new Map<string, FollowState>();
  private readonly log: Logger;

  constructor(private readonly deps: FollowerDeps) {
    this.log = deps.logger.child({ component: 'delta-follower' });
  }

  /** The stream state of model `name` (a fresh one when none was followed yet). */
  state(name: string): FollowState {
    let s = this.states.get(name);
    if (!s) this.states.set(name, s = { base: null, head: null, applied: 0, refused: 0, error: null });
    return s;
  }

  /**
   * Applies the deltas of `m` after its served chain, swapping in each new version. Returns the
   * version at the head of the chain, which the registry must keep loaded (or undefined).
   */
  async follow(m: ServedModel): Promise<number | undefined> {
    const s = this.state(m.name);
    const fulls = m.loaded().filter((v) => m.onDisk.includes(v.version));
    const newestFull = fulls[fulls.length - 1];
    if (!newestFull) return s.head ?? undefined;
    if (s.base === null || newestFull.version > s.base) this.resync(m, s, newestFull);
    if (s.error) return s.head!;
    for (const v of listDeltas(this.deps.root, m.name)) {
      if (v <= s.head!) continue;
      const head = m.get(s.head!);
      if (!head || !(await this.applyOne(m, s, head, v))) break;
    }
    return s.head!;
  }

  /** Starts the chain again from full version `full`, retiring the delta head it replaces. */
  private resync(m: ServedModel, s: FollowState, full: LoadedVersion): void {
    if (s.head !== null && s.head !== s.base && s.head < full.version) m.remove(s.head);
    if (s.error) this.log.info({ model: m.name, version: full.version, refused: s.error.version }, 'resynchronised from a full version');
    s.base = full.version;
    s.head = full.version;
    s.error = null;
  }

  /** Reads, checks and applies delta `v` on `head`; false when it was refused. */
  private async applyOne(m: ServedModel, s: FollowState, head: LoadedVersion, v: number): Promise<boolean> {
    const dir = path.join(deltasDir(this.deps.root, m.name), String(v));
    try {
      const parent = readDeltaManifest(this.deps.root, m.name, v).parent;
      // A chain on a full version not loaded yet: the registry's next scan loads it, then we resync.
      if (parent > head.version && m.onDisk.includes(parent)) return false;
      if (parent !== head.version) {
        return this.refuse(m, s, v, 'gap', `delta ${dir}: its parent is version ${parent}, the served version is ${head.version} (a delta is missing)`);
      }
      const delta = await readDelta(this.deps.root, m.name, v);
      const out = await applyDelta(head, delta, dir);
      m.add(out.version);
      if (head.version !== s.base) m.remove(head.version);
      s.head = v;
      s.applied++;
      const info = { rows: out.rows, tombstones: out.tombstones, freshnessSeconds: (Date.now() - delta.cutAt) / 1000, applySeconds: out.version.origin.loadSeconds };
      this.deps.events?.onApplied?.(m.name, out.version, info);
      this.log.info({ model: m.name, version: v, ...info }, 'delta applied');
      return true;
    } catch (err) {
      return this.refuse(m, s, v, reasonOf(err), (err as Error).message);
    }
  }

  private refuse(m: ServedModel, s: FollowState, v: number, reason: DeltaRefusal, message: string): false {
    s.refused++;
    s.error = { version: v, reason, message, at: new Date().toISOString() };
    this.deps.events?.onRefused?.(m.name, v, reason, message);
    this.log.error({ model: m.name, version: v, reason, err: message, serving: s.head }, 'delta refused; the last good version keeps serving until the next full version');
    return false;
  }
}
