/**
 * The one predict path every protocol adapter calls, free of transport: decode the inputs against
 * the model's spec, route every row to a version (an explicit version or label, else the canary
 * split by the row's key, else the default version), hold each version for the whole request,
 * predict each version's rows, and put the answers back in request order.
 *
 * ```ts
 * const svc = new PredictionService({ registry, rows: { unknown: 'reject' } });
 * const r = await svc.predict({ model: 'ctr', target: {}, decode: (d) => d.fromInstances(body.instances) });
 * r.probs; r.groups; // [{ version: 3, label: 'stable', rows: 64 }]
 * ```
 */
import { randomUUID } from 'node:crypto';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { RawRow } from '../data/record';
import { rawFieldReader, RawValue, specFieldNames } from '../spec/raw-fields';
import type { JobSpec } from '../spec/types';
import { schemaFor } from '../data/record';
import type { LoadedVersion } from './loaded-version';
import type { ModelRegistry } from './model-registry';
import { DecodedRows, RequestRows, RequestRowsOptions } from './request-rows';
import { ServedModel, STABLE_LABEL, VersionTarget } from './served-model';
import type { SplitRouter } from './traffic-split';
import { inputSignature } from './version-loader';

/** Most examples one request may carry. */
export const DEFAULT_MAX_BATCH = 4096;

/** One predict call, as an adapter hands it over. */
export interface PredictCall {
  model: string;
  target: VersionTarget;
  /** decodes the protocol's inputs with the model's decoder */
  decode: (rows: RequestRows) => DecodedRows;
  /** the field whose value splits traffic, when the request names one (overrides the server's) */
  splitKey?: string;
  /** the client's request id; one is made when absent */
  requestId?: string;
  /** a prediction made for feedback: not counted as traffic, not remembered */
  quiet?: boolean;
}

/** The rows one version answered. */
export interface RouteGroup {
  version: number;
  /** the label the rows were routed by ('' when none) */
  label: string;
  rows: number;
}

/** A predict call's answer. */
export interface PredictResult {
  model: string;
  requestId: string;
  /** [rows] click probabilities, in request order */
  probs: Float32Array;
  /** [rows] the version each row was answered by */
  versions: Uint32Array;
  groups: RouteGroup[];
  /** the decoded request, for feedback */
  decoded: DecodedRows;
}

/** The service's dependencies. */
export interface PredictionDeps {
  registry: ModelRegistry;
  rows: RequestRowsOptions;
  /** the canary split and the server's key field (`--split`, `--split-key`) */
  split?: { router: SplitRouter; key?: string };
  maxBatch?: number;
  /** sees every answered request, with the spec its inputs were decoded by (feedback keeps them) */
  onAnswered?: (r: PredictResult, spec: JobSpec) => void;
}

interface Route {
  version: LoadedVersion;
  label: string;
  indices: number[];
}

/** See the file comment. */
export class PredictionService {
  private readonly decoders = new Map<string, RequestRows>();

  constructor(private readonly deps: PredictionDeps) {}

  /**
   * Answers one call.
   * @throws TesseraError UNKNOWN_MODEL (model, version, label), INVALID_ARGUMENT (inputs, naming
   *   the field), UNAVAILABLE (no version loaded yet)
   */
  async predict(call: PredictCall): Promise<PredictResult> {
    const model = this.deps.registry.model(call.model);
    const base = model.resolve(call.target);
    const splitKey = call.target.version === undefined && call.target.label === undefined && this.deps.split
      ? call.splitKey ?? this.deps.split.key : undefined;
    const decoded = call.decode(this.decoder(base, splitKey));
    const n = decoded.rows.length;
    const maxBatch = this.deps.maxBatch ?? DEFAULT_MAX_BATCH;
    if (n > maxBatch) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${n} examples in one request exceed the server's --max-batch ${maxBatch}; split the request`);
    const routes = this.route(model, base, call.target, decoded, splitKey);
    for (const r of routes) r.version.hold();
    try {
      const probs = new Float32Array(n);
      const versions = new Uint32Array(n);
      await Promise.all(routes.map(async (r) => {
        const p = await r.version.predict(r.indices.length === n ? decoded.rows : r.indices.map((i) => decoded.rows[i]));
        r.indices.forEach((i, k) => {
          probs[i] = p[k];
          versions[i] = r.version.version;
        });
      }));
      const groups = routes.map((r) => ({ version: r.version.version, label: r.label, rows: r.indices.length }));
      const result: PredictResult = { model: model.name, requestId: call.requestId ?? randomUUID(), probs, versions, groups, decoded };
      if (!call.quiet) {
        for (const g of groups) model.count(g.version, g.rows);
        this.deps.onAnswered?.(result, base.spec);
      }
      return result;
    } finally {
      for (const r of routes) r.version.unhold();
    }
  }

  /** The decoder for a version's spec, accepting the split key as an extra field. */
  decoder(v: LoadedVersion, splitKey?: string): RequestRows {
    const extra = [...(this.deps.rows.extra ?? []), ...(splitKey ? [splitKey] : [])];
    const key = `${v.name}|${inputSignature(v.spec)}|${extra.join(',')}`;
    let d = this.decoders.get(key);
    if (!d) this.decoders.set(key, d = new RequestRows(v.spec, { ...this.deps.rows, extra }));
    return d;
  }

  /** Which version answers each row. */
  private route(model: ServedModel, base: LoadedVersion, target: VersionTarget, decoded: DecodedRows, splitKey: string | undefined): Route[] {
    const all = (label: string): Route[] => [{ version: base, label, indices: decoded.rows.map((_, i) => i) }];
    if (target.label !== undefined) return all(target.label);
    if (target.version !== undefined) return all(model.labelsOf(target.version)[0] ?? '');
    const defaultLabel = model.labels[STABLE_LABEL] === base.version ? STABLE_LABEL : '';
    if (!splitKey || !this.deps.split) return all(defaultLabel);
    const keys = keyValues(base, decoded, splitKey);
    const routes = new Map<string, Route>();
    const router = this.deps.split.router;
    keys.forEach((k, i) => {
      const label = k === null ? undefined : router.labelOf(String(k));
      const hit = label === undefined ? undefined : model.labelled(label);
      const [v, l] = hit ? [hit, label!] : [base, defaultLabel]; // a label naming nothing loaded: the default
      const id = `${v.version}|${l}`;
      let r = routes.get(id);
      if (!r) routes.set(id, r = { version: v, label: l, indices: [] });
      r.indices.push(i);
    });
    return [...routes.values()];
  }
}

/** The split key's value in each row ('' and null count as absent). */
function keyValues(v: LoadedVersion, decoded: DecodedRows, key: string): (RawValue)[] {
  const extra = decoded.extra.get(key);
  if (extra) return extra.map((x) => (x === '' ? null : x));
  if (!specFieldNames(v.spec).includes(key)) return decoded.rows.map(() => null);
  const read = rawFieldReader(v.spec, schemaFor(v.spec.data.format), [key], 'split key');
  return decoded.rows.map((r: RawRow) => {
    const x = read(r)[key];
    return x === '' ? null : x;
  });
}
