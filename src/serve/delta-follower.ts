/**
 * `tessera serve --follow`: keeps each model's served version at the head of the chief's delta
 * stream (docs/model-format.md "Deltas"). The registry loads full versions as usual; after each
 * scan the follower applies, per model, the deltas after the newest loaded full version, in
 * version order and each once, every one building a new version object swapped in whole
 * (delta-apply.ts), so readers see V or V+1.
 *
 * The chain is found from the newest delta back through the manifests' parents to the served
 * head, or to a full version on disk: the stream's own full versions, not necessarily the newest
 * full version (an epoch end's export is numbered in the same sequence but is no delta's parent).
 * A restarted server so catches up from that full version plus the deltas after it.
 *
 * A delta that cannot be applied (a gap in the parent chain, a checksum or size mismatch, a spec
 * fingerprint change) is refused once: the last good version keeps serving, the refusal is
 * counted by reason and shown in status, and no chain through it is tried again; the stream
 * resynchronises from the chief's next full version, whose deltas do not pass through it.
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
  /** Loads full version `version` of model `name` (the base of a chain the registry has not loaded). */
  load(name: string, version: number): Promise<LoadedVersion>;
  logger: Logger;
  events?: FollowEvents;
}

function reasonOf(err: unknown): DeltaRefusal {
  return err instanceof TesseraError && err.code === ERROR_CODES.INCOMPATIBLE_SPEC ? 'spec' : 'checksum';
}

/** Applies each model's deltas; see the file comment. */
export class DeltaFollower {
  private readonly states = new Map<string, FollowState>();
  /** Deltas refused, per model: never read again (a chain through one waits for a newer full version). */
  private readonly refusedVersions = new Map<string, Set<number>>();
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
   * Applies the deltas of `m` up to its newest one, swapping in each new version. Returns the
   * version at the head of the chain, which the registry must keep loaded (or undefined).
   */
  async follow(m: ServedModel): Promise<number | undefined> {
    const s = this.state(m.name);
    const newest = listDeltas(this.deps.root, m.name).pop();
    if (newest === undefined || (s.head !== null && newest <= s.head)) return s.head ?? undefined;
    const chain = this.chainOf(m, s, newest);
    if (!chain) return s.head ?? undefined;
    let head = chain.from === s.head ? m.get(s.head) : m.get(chain.from) ?? await this.loadBase(m, chain.from);
    if (!head) return s.head ?? undefined;
    if (chain.from !== s.head) this.resync(m, s, chain.from);
    for (const v of chain.deltas) {
      const next = await this.applyOne(m, s, head, v);
      if (!next) break;
      head = next;
    }
    if (!m.get(head.version)) head.retire(); // a base loaded for a chain whose first delta was refused
    return s.head ?? undefined;
  }

  /**
   * The deltas from the newest back to the served head or to a full version on disk, oldest
   * first, read from the manifests' parents; undefined (a refusal counted once) when the chain
   * breaks: a missing delta (a gap) or a delta refused before.
   */
  private chainOf(m: ServedModel, s: FollowState, newest: number): { from: number; deltas: number[] } | undefined {
    const deltas: number[] = [];
    for (let v = newest; ;) {
      if (this.refusedOf(m.name).has(v)) return undefined;
      let parent: number;
      try {
        parent = readDeltaManifest(this.deps.root, m.name, v).parent;
      } catch (err) {
        this.refuse(m, s, v, 'checksum', (err as Error).message);
        return undefined;
      }
      deltas.unshift(v);
      if (parent === s.head || m.onDisk.includes(parent)) return { from: parent, deltas };
      if (!listDeltas(this.deps.root, m.name).includes(parent)) {
        const dir = path.join(deltasDir(this.deps.root, m.name), String(v));
        this.refuse(m, s, v, 'gap', `delta ${dir}: its parent, version ${parent}, is neither a delta nor a full version on disk (a delta is missing)`);
        return undefined;
      }
      v = parent;
    }
  }

  /** Full version `v` loaded as the base of a chain (not served itself unless the registry loaded it). */
  private async loadBase(m: ServedModel, v: number): Promise<LoadedVersion | undefined> {
    try {
      return await this.deps.load(m.name, v);
    } catch (err) {
      this.log.error({ model: m.name, version: v, err: (err as Error).message }, 'cannot load the full version a delta chain starts from');
      return undefined;
    }
  }

  /** Starts the chain again from full version `full`, retiring the delta head it replaces. */
  private resync(m: ServedModel, s: FollowState, full: number): void {
    if (s.head !== null && s.head !== s.base) m.remove(s.head);
    if (s.error) this.log.info({ model: m.name, version: full, refused: s.error.version }, 'resynchronised from a full version');
    s.base = full;
    s.head = full;
    s.error = null;
  }

  /** Reads, checks and applies delta `v` on `head`; the new version, or undefined when refused. */
  private async applyOne(m: ServedModel, s: FollowState, head: LoadedVersion, v: number): Promise<LoadedVersion | undefined> {
    const dir = path.join(deltasDir(this.deps.root, m.name), String(v));
    try {
      const delta = await readDelta(this.deps.root, m.name, v);
      const out = await applyDelta(head, delta, dir);
      m.add(out.version);
      if (head.version !== s.base) m.remove(head.version);
      else if (!m.get(head.version)) head.retire(); // a base loaded for the chain only
      s.head = v;
      s.applied++;
      const info = { rows: out.rows, tombstones: out.tombstones, freshnessSeconds: (Date.now() - delta.cutAt) / 1000, applySeconds: out.version.origin.loadSeconds };
      this.deps.events?.onApplied?.(m.name, out.version, info);
      this.log.info({ model: m.name, version: v, ...info }, 'delta applied');
      return out.version;
    } catch (err) {
      this.refuse(m, s, v, reasonOf(err), (err as Error).message);
      return undefined;
    }
  }

  private refusedOf(name: string): Set<number> {
    let r = this.refusedVersions.get(name);
    if (!r) this.refusedVersions.set(name, r = new Set());
    return r;
  }

  private refuse(m: ServedModel, s: FollowState, v: number, reason: DeltaRefusal, message: string): void {
    this.refusedOf(m.name).add(v);
    s.refused++;
    s.error = { version: v, reason, message, at: new Date().toISOString() };
    this.deps.events?.onRefused?.(m.name, v, reason, message);
    this.log.error({ model: m.name, version: v, reason, err: message, serving: s.head }, 'delta refused; the last good version keeps serving until the next full version');
  }
}
