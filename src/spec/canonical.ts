/**
 * The canonical form of a job spec: the YAML saved beside every model and checkpoint, and the
 * fingerprints that answer "is this the same spec?".
 *
 * Canonical means fully expanded: every default written out, `names:` lists and `table_defaults`
 * expanded into one entry per field / table, optimizers with every hyper-parameter. Two spec files
 * that differ only in such sugar, key order, comments or whitespace have the same canonical form
 * and the same fingerprint. List order is kept: field order fixes the model's input layout.
 */
import { createHash } from 'node:crypto';
import { Document, isMap, isScalar, visit } from 'yaml';
import { memoryOptionToYaml, optimizerToYaml } from './ps-config';
import { JOB_SPEC_DEFAULTS, JobSpec, ListFeatureSpec, MODEL_TRAITS, NumericFeatureSpec } from './types';

/** Characters of the sha256 hex digest kept in a fingerprint (64 bits). */
export const FINGERPRINT_HEX_CHARS = 16;

function numericToPlain(f: NumericFeatureSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { name: f.name, transform: f.transform, missing: f.missing };
  if (f.transform === 'bucketize') {
    out.boundaries = [...f.boundaries];
    out.table = f.table;
  }
  return out;
}

function listToPlain(l: ListFeatureSpec): Record<string, unknown> {
  return {
    name: l.name, separator: l.separator, max_len: l.maxLen, table: l.table, pooling: l.pooling,
    ...(l.target === undefined ? {} : { target: l.target }), hash_as: l.hashAs,
  };
}

/** The model section as YAML keys; keys a model kind does not use are left out. */
function modelToPlain(spec: JobSpec): Record<string, unknown> {
  const m = spec.model;
  const out: Record<string, unknown> = { kind: m.kind };
  if (MODEL_TRAITS[m.kind].mlp) out.hidden = [...m.hidden];
  if (MODEL_TRAITS[m.kind].cross) out.cross_layers = m.crossLayers;
  out.dense_optimizer = optimizerToYaml(m.denseOptimizer);
  // Written only when set, so specs without it keep their fingerprints.
  if (m.dropout > 0) out.dropout = m.dropout;
  return out;
}

/**
 * The spec as a plain object with YAML (snake_case) keys in a fixed order; `parseJobSpec` of its
 * YAML gives back an identical spec. Null data paths are left out.
 */
export function jobSpecToPlain(spec: JobSpec): Record<string, unknown> {
  const { data, features: f, training: t } = spec;
  return {
    name: spec.name,
    data: {
      format: data.format,
      ...(data.train === null ? {} : { train: data.train }),
      ...(data.eval === null ? {} : { eval: data.eval }),
      max_error_rate: data.maxErrorRate,
    },
    features: {
      numeric: f.numeric.map(numericToPlain),
      categorical: f.categorical.map((c) => ({ name: c.name, table: c.table })),
      // Written only when present, so specs without lists keep their fingerprints.
      ...(f.lists.length === 0 ? {} : { lists: f.lists.map(listToPlain) }),
      tables: f.tables.map((tb) => ({
        name: tb.name, dim: tb.dim, optimizer: optimizerToYaml(tb.optimizer), initializer: { ...tb.initializer }, seed: tb.seed,
        // Written only when set, so specs without them keep their fingerprints.
        ...(tb.weightFormat === undefined ? {} : { weight_format: tb.weightFormat }),
        ...(tb.admission ? { admission: memoryOptionToYaml(tb.admission) } : {}),
        ...(tb.eviction ? { eviction: memoryOptionToYaml(tb.eviction) } : {}),
      })),
      missing_categorical: f.missingCategorical,
    },
    model: modelToPlain(spec),
    training: {
      batch_size: t.batchSize,
      epochs: t.epochs,
      max_inflight_pushes: t.maxInflightPushes,
      dense_sync_every: t.denseSyncEvery,
      seed: t.seed,
      // Written only when not the default, so specs without it keep their fingerprints.
      ...(t.wireEncoding === JOB_SPEC_DEFAULTS.wireEncoding ? {} : { wire_encoding: t.wireEncoding }),
      ...(t.dataThread === JOB_SPEC_DEFAULTS.dataThread ? {} : { data_thread: t.dataThread }),
      ...(t.earlyStop ? { early_stop: { metric: t.earlyStop.metric, patience: t.earlyStop.patience, min_delta: t.earlyStop.minDelta } } : {}),
    },
    // Written only when not the default, so specs without it keep their fingerprints.
    ...(spec.ps.replication === JOB_SPEC_DEFAULTS.replication ? {} : { ps: { replication: spec.ps.replication } }),
  };
}

/**
 * The canonical YAML of a spec: one line per field and per table (flow mappings), a header
 * naming the fingerprint. Save it with every model and checkpoint; `parseJobSpec` reads it back
 * to an identical spec.
 *
 * ```ts
 * fs.writeFileSync(path.join(ckptDir, 'job.yaml'), jobSpecToYaml(spec));
 * ```
 */
export function jobSpecToYaml(spec: JobSpec): string {
  const doc = new Document(jobSpecToPlain(spec));
  visit(doc, {
    Seq(_, seq) {
      if (seq.items.every((item) => isScalar(item))) seq.flow = true;
      for (const item of seq.items) if (isMap(item)) item.flow = true;
    },
  });
  doc.commentBefore = ` Tessera job spec, canonical form (every default explicit).\n fingerprint: ${specFingerprint(spec)}`;
  // lineWidth 0: never fold, so each field or table stays on one greppable line.
  return doc.toString({ lineWidth: 0 });
}

/** JSON with object keys sorted at every level: independent of construction order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function digest(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex').slice(0, FINGERPRINT_HEX_CHARS);
}

/**
 * A stable 16-hex-digit hash of the whole canonical spec (sha256 of its key-sorted JSON, which does
 * not depend on the YAML library's formatting). Equal exactly when the canonical forms are equal.
 *
 * ```ts
 * if (specFingerprint(loadJobSpec('job.yaml')) !== manifest.specFingerprint) console.warn('spec changed');
 * ```
 */
export function specFingerprint(spec: JobSpec): string {
  return digest(jobSpecToPlain(spec));
}

/**
 * Like `specFingerprint` but over only what trained parameters depend on: `data.format` (the
 * column layout), `features` and `model`. The job name, data paths and `training` may change
 * (e.g. to continue training on new data) without changing it; serving should refuse a model
 * whose model fingerprint differs from its spec's.
 */
export function modelFingerprint(spec: JobSpec): string {
  const plain = jobSpecToPlain(spec);
  return digest({ format: spec.data.format, features: plain.features, model: plain.model });
}
