/**
 * One model name as the server sees it: the versions loaded (swapped in and out atomically), the
 * labels read from its labels.json, the versions refused, and which version a request reaches.
 *
 * Routing: an explicit version or label wins; otherwise the `stable` label when it names a loaded
 * version, else the newest loaded version. The split (traffic-split.ts) picks a label per row,
 * and falls back to that default when the label names nothing loaded.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Labels } from '../export/model-labels';
import type { LoadedVersion } from './loaded-version';

/** The label the default route follows (and `tessera serve rollback` moves). */
export const STABLE_LABEL = 'stable';

/** A version the server would not serve, and why. */
export interface RefusedVersion {
  version: number;
  code: string;
  reason: string;
  /** when it was refused (ms since the epoch) */
  at: number;
  /** mtime of its manifest when refused: it is tried again only if that changes */
  stamp: number;
}

/** Requests and rows a version answered. */
export interface Traffic {
  requests: number;
  rows: number;
}

/** Which version to use: a number, a label, or neither (the default). */
export interface VersionTarget {
  version?: number;
  label?: string;
}

/** A model's served versions and labels; see the file comment. */
export class ServedModel {
  /** Replaced whole on every change, so a reader always sees one consistent set. */
  private versions: ReadonlyMap<number, LoadedVersion> = new Map();
  /** Labels as last read from labels.json. */
  labels: Labels = {};
  /** Why labels.json could not be read (the previous labels stay in force). */
  labelsError: string | null = null;
  /** Versions refused, by number. */
  readonly refused = new Map<number, RefusedVersion>();
  /** Versions present in the model root at the last scan. */
  onDisk: readonly number[] = [];
  /** Why the model's directory could not be listed at the last scan (its versions keep serving). */
  dirError: string | null = null;
  /** Traffic per version since the server started. */
  readonly traffic = new Map<number, Traffic>();

  constructor(readonly name: string) {}

  /** Loaded versions, ascending. */
  loaded(): LoadedVersion[] {
    return [...this.versions.values()].sort((a, b) => a.version - b.version);
  }

  /** The loaded version `v`, if any. */
  get(v: number): LoadedVersion | undefined {
    return this.versions.get(v);
  }

  /** Swaps `v` in: requests routed from now on may reach it (a version it replaces is retired). */
  add(v: LoadedVersion): void {
    const replaced = this.versions.get(v.version);
    this.versions = new Map([...this.versions, [v.version, v]]);
    this.refused.delete(v.version);
    replaced?.retire();
  }

  /** Swaps version `v` out and retires it (requests holding it finish on it). */
  remove(v: number): LoadedVersion | undefined {
    const gone = this.versions.get(v);
    if (!gone) return undefined;
    const next = new Map(this.versions);
    next.delete(v);
    this.versions = next;
    gone.retire();
    return gone;
  }

  /** Refused versions, ascending. */
  refusedList(): RefusedVersion[] {
    return [...this.refused.values()].sort((a, b) => a.version - b.version);
  }

  /** Labels that name each version, by version. */
  labelsOf(v: number): string[] {
    return Object.entries(this.labels).filter(([, x]) => x === v).map(([l]) => l).sort();
  }

  /** The version requests with no version or label reach: `stable` if loaded, else the newest. */
  defaultVersion(): LoadedVersion | undefined {
    const stable = this.labels[STABLE_LABEL];
    const pinned = stable === undefined ? undefined : this.versions.get(stable);
    if (pinned) return pinned;
    let newest: LoadedVersion | undefined;
    for (const v of this.versions.values()) if (!newest || v.version > newest.version) newest = v;
    return newest;
  }

  /** The loaded version a label names, if the label is set and its version loaded. */
  labelled(label: string): LoadedVersion | undefined {
    const v = this.labels[label];
    return v === undefined ? undefined : this.versions.get(v);
  }

  /**
   * The version `target` names, or the default.
   * @throws TesseraError UNKNOWN_MODEL naming the version or label (and what there is instead);
   *   UNAVAILABLE when no version is loaded yet
   */
  resolve(target: VersionTarget): LoadedVersion {
    if (target.version !== undefined) return this.byVersion(target.version);
    if (target.label !== undefined) return this.byLabel(target.label);
    const v = this.defaultVersion();
    if (!v) throw new TesseraError(ERROR_CODES.UNAVAILABLE, `model ${this.name} has no version loaded yet${this.refusals()}`);
    return v;
  }

  /** Counts one request of `rows` rows answered by version `v`. */
  count(v: number, rows: number): void {
    const t = this.traffic.get(v) ?? { requests: 0, rows: 0 };
    t.requests++;
    t.rows += rows;
    this.traffic.set(v, t);
  }

  private byVersion(v: number): LoadedVersion {
    const hit = this.versions.get(v);
    if (hit) return hit;
    const refused = this.refused.get(v);
    const why = refused ? `was refused: ${refused.reason}` : this.onDisk.includes(v) ? 'is not loaded (see --version-policy)' : 'does not exist';
    throw new TesseraError(ERROR_CODES.UNKNOWN_MODEL, `version ${v} of model ${this.name} ${why}; loaded versions: ${this.loadedList()}`);
  }

  private byLabel(label: string): LoadedVersion {
    const v = this.labels[label];
    if (v === undefined) {
      const set = Object.entries(this.labels).map(([l, x]) => `${l} → ${x}`).join(', ') || 'none';
      throw new TesseraError(ERROR_CODES.UNKNOWN_MODEL, `label ${label} is not set for model ${this.name}; its labels: ${set}`);
    }
    const hit = this.versions.get(v);
    if (!hit) throw new TesseraError(ERROR_CODES.UNKNOWN_MODEL, `label ${label} of model ${this.name} names version ${v}, which is not loaded; loaded versions: ${this.loadedList()}`);
    return hit;
  }

  private loadedList(): string {
    return this.loaded().map((x) => x.version).join(', ') || 'none';
  }

  private refusals(): string {
    const r = this.refusedList();
    return r.length === 0 ? '' : ` (refused: ${r.map((x) => `version ${x.version}: ${x.reason}`).join('; ')})`;
  }
}
