/**
 * Validation of `features.lists` entries: list-valued columns (a user's click history), their
 * separator, length, pooling and attention target, and how they tie to the other fields and to
 * the model. Names and table references are checked with the other fields (validate-features.ts).
 */
import { at, fail, num, oneOf, str } from './spec-error';
import {
  CategoricalFeatureSpec, JOB_SPEC_DEFAULTS, JOB_SPEC_LIMITS, LIST_POOLINGS, ListFeatureSpec, ModelKind, MODEL_TRAITS,
} from './types';

/** The keys of a `features.lists` entry. */
export const LIST_KEYS = ['name', 'names', 'separator', 'max_len', 'table', 'pooling', 'target', 'hash_as'];

/** What a list entry is checked against. */
export interface ListContext {
  /** `data.format`, for messages */
  format: string;
  /** the format's field delimiter, which a separator must not contain */
  delimiter: string;
  /** the format's categorical column names (`hash_as` must be one) */
  categoricalNames: readonly string[];
}

/**
 * One `features.lists` entry for the field `name` (its name and `table` already checked);
 * `target` is checked later, against the categorical fields, by `checkListTargets`.
 */
export function listEntry(path: string, o: Record<string, unknown>, name: string, table: string, ctx: ListContext): ListFeatureSpec {
  if (o.separator === undefined) fail(at(path, 'separator'), 'required (the string between the elements of a cell, e.g. "|")');
  const separator = str(at(path, 'separator'), o.separator);
  if (separator.includes(ctx.delimiter) || /[\r\n]/.test(separator)) {
    fail(at(path, 'separator'), `must not contain the ${ctx.format} field delimiter ${JSON.stringify(ctx.delimiter)} or a line break (got ${JSON.stringify(separator)})`);
  }
  if (o.max_len === undefined) fail(at(path, 'max_len'), `required (elements kept per row, 1..${JOB_SPEC_LIMITS.maxListLength})`);
  const maxLen = num(at(path, 'max_len'), o.max_len, { integer: true, min: 1, max: JOB_SPEC_LIMITS.maxListLength });
  const pooling = oneOf(at(path, 'pooling'), o.pooling, LIST_POOLINGS, 'pooling', JOB_SPEC_DEFAULTS.listPooling);
  let target: string | undefined;
  if (pooling === 'attention') {
    if (o.target === undefined) fail(at(path, 'target'), 'required with pooling: attention (the categorical field whose embedding attends over the list, e.g. the candidate item)');
    target = str(at(path, 'target'), o.target);
  } else if (o.target !== undefined) {
    fail(at(path, 'target'), `only used with pooling: attention (pooling is ${pooling})`);
  }
  let hashAs = target ?? name;
  if (o.hash_as !== undefined) {
    hashAs = str(at(path, 'hash_as'), o.hash_as);
    if (!ctx.categoricalNames.includes(hashAs)) {
      fail(at(path, 'hash_as'), `unknown categorical field "${hashAs}" for format ${ctx.format} (expected one of ${ctx.categoricalNames.join(', ')})`);
    }
  }
  return { name, separator, maxLen, table, pooling, ...(target === undefined ? {} : { target }), hashAs };
}

/**
 * Every attention target is a categorical field of the spec in the list's own table (the
 * candidate item and the history items share their embedding rows).
 */
export function checkListTargets(path: string, lists: readonly ListFeatureSpec[], categorical: readonly CategoricalFeatureSpec[]): void {
  lists.forEach((l, i) => {
    if (l.target === undefined) return;
    const where = `${path}[${i}].target`;
    const c = categorical.find((f) => f.name === l.target);
    if (c === undefined) {
      const known = categorical.length === 0 ? 'none are listed' : categorical.map((f) => f.name).join(', ');
      fail(where, `"${l.target}" is not a field of features.categorical (${known}); the target must be a categorical field`);
    }
    if (c.table !== l.table) {
      fail(where, `"${l.target}" uses table "${c.table}" but this list uses "${l.table}"; a target and its list must share one table`);
    }
  });
}

/** Attention lists go with model din, and din needs at least one. */
export function checkListsForModel(kind: ModelKind, lists: readonly ListFeatureSpec[]): void {
  const attends = MODEL_TRAITS[kind].attention;
  const i = lists.findIndex((l) => l.pooling === 'attention');
  if (!attends && i >= 0) {
    fail(`features.lists[${i}].pooling`, `attention needs model din (model is ${kind}); use sum or mean with ${kind}`);
  }
  if (attends && i < 0) {
    fail('features.lists', `model ${kind} needs at least one list field with pooling: attention (and a target)`);
  }
}
