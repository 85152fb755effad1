/**
 * A job's model parts from its spec: the feature transformer, the model sized to the spec's
 * fields, and the feature layout between them. Training, evaluation and serving all build them
 * here, so every one of them sees features the same way.
 */
import { schemaFor } from '../data/record';
import { createModel } from '../model/registry';
import type { CtrModel, ModelOptions } from '../model/types';
import { FeatureTransformer } from '../spec/transform';
import type { JobSpec } from '../spec/types';
import { planLists, planSlots } from './batch-assembler';
import { FeatureLayout } from './feature-layout';

/** What computes predictions for a job spec (weights come from elsewhere). */
export interface ModelParts {
  transformer: FeatureTransformer;
  model: CtrModel;
  layout: FeatureLayout;
}

/**
 * Builds the parts of `spec`'s model (`opts`: how it computes, not what). Needs a tfjs backend
 * only to compute (`selectBackend`).
 * @throws TesseraError CONFIG when the spec's features do not fit its model
 */
export function buildModelParts(spec: JobSpec, opts: ModelOptions = {}): ModelParts {
  const transformer = new FeatureTransformer(spec, schemaFor(spec.data.format));
  const { numFields, slots } = planSlots(spec.features.tables.map((t) => t.name), transformer.fieldsPerTable);
  const lists = planLists(slots, transformer.lists).inputs;
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
    ...(lists.length > 0 ? { lists } : {}),
  }, opts);
  return { transformer, model, layout: new FeatureLayout(spec, transformer, model) };
}
