/**
 * Validation of `ModelConfig`. Errors name the offending key (`model.kind: unknown model 'dfm'`)
 * and carry TESSERA_ERR_CONFIG, so a job spec typo fails before any tensor is built.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { towerWidth } from './blocks';
import { DEFAULT_CROSS_LAYERS } from './dcn';
import { MAX_DROPOUT } from './dropout';
import { MODEL_KINDS } from './types';
import type { ListInput, ListPooling, ModelConfig, ModelKind } from './types';

/** Kinds whose logit includes the FM pairwise term, which needs at least one field. */
const NEEDS_FIELDS: ReadonlySet<ModelKind> = new Set<ModelKind>(['fm', 'deepfm', 'din']);
/** Kinds with an MLP or cross tower over flatten(emb) ++ dense, which needs a non-empty input. */
const HAS_TOWER: ReadonlySet<ModelKind> = new Set<ModelKind>(['deepfm', 'widedeep', 'dcn', 'din']);
const LIST_POOLINGS: readonly ListPooling[] = ['sum', 'mean', 'attention'];

function bad(key: string, msg: string): TesseraError {
  return new TesseraError(ERROR_CODES.CONFIG, `model${key === '' ? '' : `.${key}`}: ${msg}`);
}

function checkInt(key: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw bad(key, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkKind(v: unknown): ModelKind {
  if (typeof v !== 'string' || !(MODEL_KINDS as readonly string[]).includes(v)) {
    throw bad('kind', `unknown model ${typeof v === 'string' ? `'${v}'` : JSON.stringify(v)} (expected one of ${MODEL_KINDS.join(', ')})`);
  }
  return v as ModelKind;
}

function checkDropout(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_DROPOUT) {
    throw bad('dropout', `must be a rate in [0, ${MAX_DROPOUT}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkHidden(v: unknown): number[] {
  if (!Array.isArray(v)) throw bad('hidden', `must be an array of layer widths, got ${JSON.stringify(v)}`);
  return v.map((h, i) => checkInt(`hidden[${i}]`, h, 1));
}

/** One list: inside [0, F), after the previous one, with a target outside every list (attention). */
function checkList(l: ListInput, i: number, numFields: number, from: number, kind: ModelKind): ListInput {
  const key = `lists[${i}]`;
  if (typeof l !== 'object' || l === null) throw bad(key, 'expected an object');
  const offset = checkInt(`${key}.offset`, l.offset, from);
  const length = checkInt(`${key}.length`, l.length, 1);
  if (offset + length > numFields) throw bad(key, `fields ${offset}..${offset + length - 1} are past numFields ${numFields}`);
  if (!LIST_POOLINGS.includes(l.pooling)) throw bad(`${key}.pooling`, `unknown pooling ${JSON.stringify(l.pooling)} (expected one of ${LIST_POOLINGS.join(', ')})`);
  if (l.pooling !== 'attention') return Object.freeze({ offset, length, pooling: l.pooling });
  if (kind !== 'din') throw bad(`${key}.pooling`, `attention needs kind din (kind is ${kind})`);
  const target = checkInt(`${key}.target`, l.target, 0);
  if (target >= numFields) throw bad(`${key}.target`, `field ${target} is past numFields ${numFields}`);
  return Object.freeze({ offset, length, pooling: l.pooling, target });
}

/** The lists, ascending and disjoint, targets outside every list; din needs an attention list. */
function checkLists(v: unknown, numFields: number, kind: ModelKind): ListInput[] {
  if (v !== undefined && !Array.isArray(v)) throw bad('lists', `must be an array, got ${JSON.stringify(v)}`);
  let from = 0;
  const lists = ((v ?? []) as ListInput[]).map((l, i) => {
    const out = checkList(l, i, numFields, from, kind);
    from = out.offset + out.length;
    return out;
  });
  lists.forEach((l, i) => {
    if (l.target !== undefined && lists.some((o) => l.target! >= o.offset && l.target! < o.offset + o.length)) {
      throw bad(`lists[${i}].target`, `field ${l.target} is an element of a list; the target must be another field`);
    }
  });
  if (kind === 'din' && !lists.some((l) => l.pooling === 'attention')) throw bad('lists', 'din needs at least one list with pooling attention');
  return lists;
}

/**
 * Validates `cfg` and returns a deeply frozen copy with defaults filled in (`seed` 0, and
 * `crossLayers` 3 for dcn); a `dropout` of 0 is left out.
 *
 * ```ts
 * validateModelConfig({ kind: 'dfm', numFields: 26, embDim: 16, numDense: 13, hidden: [400] });
 * // throws TesseraError TESSERA_ERR_CONFIG "model.kind: unknown model 'dfm' (expected one of ...)"
 * ```
 */
export function validateModelConfig(cfg: ModelConfig): Readonly<ModelConfig> {
  if (typeof cfg !== 'object' || cfg === null) throw bad('', 'expected an object');
  const kind = checkKind(cfg.kind);
  const out: ModelConfig = {
    kind,
    numFields: checkInt('numFields', cfg.numFields, NEEDS_FIELDS.has(kind) ? 1 : 0),
    embDim: checkInt('embDim', cfg.embDim, 1),
    numDense: checkInt('numDense', cfg.numDense, 0),
    hidden: Object.freeze(checkHidden(cfg.hidden ?? [])) as number[],
    seed: cfg.seed === undefined ? 0 : checkInt('seed', cfg.seed, 0),
  };
  if (cfg.dropout !== undefined && checkDropout(cfg.dropout) > 0) out.dropout = cfg.dropout;
  const lists = checkLists(cfg.lists, out.numFields, kind);
  if (lists.length > 0) out.lists = Object.freeze(lists) as ListInput[];
  if (kind === 'dcn') out.crossLayers = cfg.crossLayers === undefined ? DEFAULT_CROSS_LAYERS : checkInt('crossLayers', cfg.crossLayers, 0);
  else if (cfg.crossLayers !== undefined) out.crossLayers = checkInt('crossLayers', cfg.crossLayers, 0);
  if (HAS_TOWER.has(kind) && towerWidth(out) < 1) {
    throw bad('numFields', `${kind} needs at least one categorical field or numeric feature`);
  }
  return Object.freeze(out);
}
