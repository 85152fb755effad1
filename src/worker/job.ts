/**
 * Builds a training job's parts from a job spec: the feature transformer, the model sized to
 * the spec's fields, and the trainer over some ParameterAccess. Shared by `tessera train`,
 * `tessera eval`, the cluster worker and the chief's evaluation, so all of them see features
 * the same way.
 */
import type { Logger } from '../common/logger';
import { schemaFor } from '../data/record';
import { createModel } from '../model/registry';
import type { CtrModel } from '../model/types';
import { FeatureTransformer } from '../spec/transform';
import type { JobSpec } from '../spec/types';
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
    dropout: spec.model.dropout,
    seed: spec.training.seed,
  });
  const trainer = new Trainer({ spec, params, model, transformer, logger, onStep });
  return { transformer, model, trainer };
}
