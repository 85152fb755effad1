/**
 * Command-line overrides of a job spec (`--model`, `--data`, `--eval`, `--epochs`): applied to the
 * canonical form and validated again, so an override is checked like the key it replaces.
 */
import { stringify } from 'yaml';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { jobSpecToPlain, parseJobSpec } from './job-spec';
import { closest } from '../common/edit-distance';
import { MODEL_TRAITS } from './types';
import type { JobSpec, ModelKind } from './types';

/** Overrides some keys of a spec and re-validates it (errors name the key). */
export function overrideSpec(spec: JobSpec, o: { model?: string; train?: string; eval?: string; epochs?: number }): JobSpec {
  const plain = jobSpecToPlain(spec) as { model: Record<string, unknown>; data: Record<string, unknown>; training: Record<string, unknown> };
  if (o.model !== undefined) {
    if (!Object.prototype.hasOwnProperty.call(MODEL_TRAITS, o.model)) {
      const near = closest(o.model, Object.keys(MODEL_TRAITS));
      throw new TesseraError(ERROR_CODES.CONFIG, `--model: unknown model "${o.model}"${near ? ` (did you mean ${near}?)` : ''}; the models are ${Object.keys(MODEL_TRAITS).join(', ')}`);
    }
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

/**
 * Refuses a spec whose `training.early_stop` has no evaluation data to watch (after overrides:
 * `--eval` may supply it), naming the key and the fix.
 *
 * @throws TesseraError CONFIG
 */
export function checkEarlyStopEval(spec: JobSpec): void {
  if (spec.training.earlyStop !== undefined && !spec.data.eval) {
    throw new TesseraError(ERROR_CODES.CONFIG, 'training.early_stop needs evaluation data: pass --eval PATH or set data.eval (or remove early_stop)');
  }
}
