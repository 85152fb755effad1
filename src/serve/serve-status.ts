/**
 * `GET /status` of a running server, also what `tessera serve status` prints: every model's
 * versions (loaded, refused, on disk), labels, load times and traffic, and the server's policy
 * and split. The same figures as the metrics, in one JSON document.
 */
import { formatVersionPolicy } from './version-policy';
import type { ModelRegistry } from './model-registry';
import type { ServedModel } from './served-model';
import type { TrafficSplit } from './traffic-split';

/** One loaded version in the status. */
export interface VersionStatus {
  version: number;
  state: 'AVAILABLE' | 'RETIRING';
  labels: string[];
  default: boolean;
  created_at: string;
  step: number;
  samples: number;
  loaded_at: string;
  load_seconds: number;
  rows: { resident: number; disk: number; reloads: number };
  traffic: { requests: number; rows: number };
  in_flight: number;
  /** true when its directory is gone from the root (it keeps serving from memory) */
  deleted_on_disk: boolean;
  spec_fingerprint: string;
}

/** One model in the status. */
export interface ModelStatus {
  name: string;
  ready: boolean;
  default_version: number | null;
  labels: Record<string, number>;
  labels_error: string | null;
  on_disk: number[];
  versions: VersionStatus[];
  refused: { version: number; code: string; reason: string; at: string }[];
  dir_error: string | null;
  /** extra figures by version (feedback quality), filled by whoever has them */
  [extra: string]: unknown;
}

/** The whole status document. */
export interface ServerStatus {
  ready: boolean;
  root: string;
  root_error: string | null;
  policy: string;
  split: { key: string | null; shares: Record<string, number> } | null;
  scans: number;
  models: ModelStatus[];
}

/** The status of one model. */
export function modelStatus(m: ServedModel): ModelStatus {
  const def = m.defaultVersion();
  return {
    name: m.name, ready: m.loaded().length > 0, default_version: def?.version ?? null,
    labels: { ...m.labels }, labels_error: m.labelsError, on_disk: [...m.onDisk],
    versions: m.loaded().map((v) => ({
      version: v.version, state: v.isRetired ? 'RETIRING' : 'AVAILABLE', labels: m.labelsOf(v.version), default: v === def,
      created_at: v.origin.manifest.createdAt, step: v.origin.manifest.step, samples: v.origin.manifest.samples,
      loaded_at: new Date(v.origin.loadedAt).toISOString(), load_seconds: v.origin.loadSeconds, rows: v.rows(),
      traffic: { ...(m.traffic.get(v.version) ?? { requests: 0, rows: 0 }) }, in_flight: v.inFlight,
      deleted_on_disk: m.dirError !== null || !m.onDisk.includes(v.version), spec_fingerprint: v.origin.manifest.specFingerprint,
    })),
    refused: m.refusedList().map((r) => ({ version: r.version, code: r.code, reason: r.reason, at: new Date(r.at).toISOString() })),
    dir_error: m.dirError,
  };
}

/** The status of every model. */
export function serverStatus(registry: ModelRegistry, split: { split: TrafficSplit; key?: string } | undefined, extra?: (m: ServedModel, s: ModelStatus) => void): ServerStatus {
  return {
    ready: registry.ready(), root: registry.root, root_error: registry.rootError, policy: formatVersionPolicy(registry.policy),
    split: split ? { key: split.key ?? null, shares: Object.fromEntries(split.split.shares.map((s) => [s.label, s.share])) } : null,
    scans: registry.scans,
    models: registry.list().map((m) => {
      const s = modelStatus(m);
      extra?.(m, s);
      return s;
    }),
  };
}
