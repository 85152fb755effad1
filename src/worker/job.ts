/**
 * Builds a training job's parts from a job spec: the model parts (feature transformer, model,
 * feature layout; src/infer) and the trainer over some ParameterAccess. Shared by `tessera train`,
 * `tessera eval`, the cluster worker and the chief's evaluation.
 */
import type { Logger } from '../common/logger';
import { buildModelParts, ModelParts } from '../infer/model-parts';
import type { JobSpec } from '../spec/types';
import type { ParameterAccess } from './param-access';
import { StepInfo, Trainer } from './trainer';

/** The model parts and the trainer of one job. */
export interface JobParts extends ModelParts {
  trainer: Trainer;
}

/** Wires transformer, model and trainer for `spec` over `params`. */
export function buildJob(spec: JobSpec, params: ParameterAccess, logger: Logger, onStep?: (s: StepInfo) => void): JobParts {
  const parts = buildModelParts(spec);
  const trainer = new Trainer({ spec, params, ...parts, logger, onStep });
  return { ...parts, trainer };
}
