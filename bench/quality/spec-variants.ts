/**
 * The job specs bench:quality trains: a shipped example, changed on its canonical form and
 * validated again, so a variant is checked exactly as a user's YAML would be.
 */
import { stringify } from 'yaml';
import { jobSpecToPlain, parseJobSpec } from '../../src/spec/job-spec';
import { MODEL_TRAITS } from '../../src/spec/types';
import type { JobSpec, ModelKind } from '../../src/spec/types';

/** The canonical form of a spec as YAML keys (what `edit` functions change). */
export interface PlainSpec {
  name: string;
  data: Record<string, unknown>;
  features: { tables: Array<Record<string, unknown>>; [key: string]: unknown };
  model: Record<string, unknown>;
  training: Record<string, unknown>;
}

/** `spec` with `edit` applied to its canonical YAML keys, validated again. */
export function respec(spec: JobSpec, what: string, edit: (plain: PlainSpec) => void): JobSpec {
  const plain = jobSpecToPlain(spec) as unknown as PlainSpec;
  edit(plain);
  return parseJobSpec(stringify(plain), `<${spec.name}: ${what}>`);
}

/** `spec` with training seed `seed`, which every table's initialiser seed follows too. */
export function withSeed(spec: JobSpec, seed: number): JobSpec {
  return respec(spec, `seed ${seed}`, (p) => {
    p.training.seed = seed;
    for (const t of p.features.tables) t.seed = seed;
  });
}

/**
 * `spec` trained as model `kind`: keys the kind does not take are dropped, for `lr` every table
 * becomes dim 1 (its embeddings are the linear weights), and for a kind without attention an
 * attended list is sum-pooled, hashed as its target still (DIN's baseline, ADR 0033).
 */
export function asModel(spec: JobSpec, kind: ModelKind): JobSpec {
  return respec(spec, `model ${kind}`, (p) => {
    p.model.kind = kind;
    if (!MODEL_TRAITS[kind].mlp) delete p.model.hidden;
    if (!MODEL_TRAITS[kind].cross) delete p.model.cross_layers;
    if (MODEL_TRAITS[kind].unitDims) for (const t of p.features.tables) t.dim = 1;
    if (!MODEL_TRAITS[kind].attention) {
      for (const l of (p.features.lists ?? []) as Array<Record<string, unknown>>) {
        if (l.pooling !== 'attention') continue;
        l.hash_as = l.hash_as ?? l.target;
        l.pooling = 'sum';
        delete l.target;
      }
    }
  });
}

/** Why `spec` cannot train as `kind` (an attention model without an attended list), or undefined. */
export function modelMisfit(spec: JobSpec, kind: ModelKind): string | undefined {
  if (!MODEL_TRAITS[kind].attention || spec.features.lists.some((l) => l.pooling === 'attention')) return undefined;
  return `${kind} needs a list field with pooling: attention, which ${spec.name} has none of`;
}

/** `spec` with every table's weights stored as fp16. */
export function withF16(spec: JobSpec): JobSpec {
  return respec(spec, 'f16 tables', (p) => {
    for (const t of p.features.tables) t.weight_format = 'f16';
  });
}
