/**
 * Builds a training job's parts from a job spec: the feature transformer, the model sized to
 * the spec's fields, and the trainer over some ParameterAccess. Shared by `tessera train`,
 * `tessera eval` and (later) the cluster worker, so all of them see features the same way.
 */
import { stringify } from 'yaml';
import type { Logger } from '../common/logger';
import { schemaFor } from '../data/record';
import { createModel } from '../model/registry';
import type { CtrModel } from '../model/types';
import { jobSpecToPlain, parseJobSpec } from '../spec/job-spec';
import { FeatureTransformer } from '../spec/transform';
import { MODEL_TRAITS } from '../spec/types';
import type { JobSpec, ModelKind } from '../spec/types';
import { planSlots } from './batch-assembler';
import type { ParameterAccess } from './param-access';
import { StepInfo, Trainer } from './trainer';

export interface JobParts {
  transformer: FeatureTransformer;
  model: CtrModel;
  trainer: Trainer;
}

/** Wires transformer, model and trainer for `spec` over `params`. */
export function buildJob(spec: JobSpec, params: ParameterAccess, logger: Logger, onStep?: (s: StepInfo) => void): JobParts {
  const transformer = new FeatureTransformer(spec, schemaFor(spec.data.format));
  const { numFields } = planSlots(spec.features.tables.map((t) => t.name), transformer.fieldsPerTable);
  const dims = spec.features.tables.map((t) => t.dim);
  const model = createModel({
    kind: spec.model.kind,
    numFields,
    embDim: Math.max(1, ...dims),
    numDense: transformer.denseNames.length,
    hidden: [...spec.model.hidden],
    crossLayers: spec.model.crossLayers,
    seed: spec.training.seed,
  });
  const trainer = new Trainer({ spec, params, model, transformer, logger, onStep });
  return { transformer, model, trainer };
}

/** Overrides some keys of a spec and re-validates it (errors name the key). */
export function overrideSpec(spec: JobSpec, o: { model?: string; train?: string; eval?: string; epochs?: number }): JobSpec {
  const plain = jobSpecToPlain(spec) as { model: Record<string, unknown>; data: Record<string, unknown>; training: Record<string, unknown> };
  if (o.model !== undefined) {
    plain.model.kind = o.model;
    const traits = MODEL_TRAITS[o.model as ModelKind];
    if (traits && !traits.mlp) delete plain.model.hidden; // keys another kind does not take
    if (traits && !traits.cross) delete plain.model.cross_layers;
  }
  if (o.train !== undefined) plain.data.train = o.train;
  if (o.eval !== undefined) plain.data.eval = o.eval;
  if (o.epochs !== undefined) plain.training.epochs = o.epochs;
  return parseJobSpec(stringify(plain), '<spec with command-line overrides>');
}
