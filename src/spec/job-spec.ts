/**
 * The job spec: ONE YAML file that says what to train on, which features to build, which model to
 * fit and how. It is validated completely on load; every error names the YAML key path (and the
 * line), e.g. `job.yaml:9:14: features.categorical[3].table: unknown table "foo" ...`. Unknown keys
 * are errors, with a did-you-mean for typos (`training.bacth_size: unknown key (did you mean
 * batch_size?)`). The result is a typed, fully-defaulted, deeply frozen `JobSpec`.
 *
 * Reference (every key; defaults in brackets):
 * ```yaml
 * name: criteo-deepfm     # required. [A-Za-z0-9_.-]{1,128}; names etcd keys and run directories.
 * data:                   # required
 *   format: criteo        # required. criteo (label, I1..I13, C1..C26, tab-separated) | avazu
 *                         #   (CSV: id, click, then 22 categorical columns: hour, C1, banner_pos, ...,
 *                         #   C21). The format fixes the field names features may use (formats.ts).
 *   train: data/train.txt # [none] file, directory or glob; the CLI may override it. Kept verbatim.
 *   eval: data/eval.txt   # [none] evaluation data.
 *   max_error_rate: 0.01  # [0.01] fraction of malformed lines a reader may skip, in [0, 1].
 * features:               # required; at least one numeric or categorical field.
 *   numeric:              # [[]] numeric columns. Columns not listed anywhere are ignored.
 *     - { name: I1, transform: log, missing: 0 }
 *     - { names: [I2, I3], transform: none }   # names: one entry per name, same settings.
 *     - { name: I5, transform: bucketize, boundaries: [0, 10, 100, 1000], table: i5_buckets }
 *       # transform [none]:
 *       #   none      dense input x.
 *       #   log       dense input Math.log1p(Math.max(x, 0)) (negatives map to 0). Not the
 *       #             floor(ln(x)^2) bucketing of some Criteo papers: that is a bucketize.
 *       #   bucketize categorical id instead of a dense input: bucket k = the number of boundaries
 *       #             <= x (a value equal to a boundary goes to the upper bucket), hashed as the
 *       #             string "b<k>" salted by the field name into `table`.
 *       #   boundaries (bucketize only, required): finite, strictly increasing, 1..10000 of them.
 *       #   table      (bucketize only, required): a table defined in features.tables.
 *       # missing [0]: the value an empty cell takes before the transform.
 *   categorical:          # [[]] hashed columns: id = FeatureHasher(field name).hash(raw string).
 *     - { name: C1, table: c1 }                 # table: required, defined in features.tables.
 *     - { names: [C2, C3], table: shared_23 }   # fields may share a table; each keeps its own
 *                                               # salt, so equal strings in C2 and C3 differ.
 *   lists:                # [[]] list-valued columns: one cell holds a variable-length list of ids
 *     - name: C26         #   (a user's click history), e.g. "a9f1|03bc|77e0". A categorical column.
 *       separator: '|'    #   required; not the format's field delimiter (tab, or , for avazu).
 *       max_len: 20       #   required, 1..1024: elements kept per row, the LAST ones when a cell
 *                         #   holds more; empty elements are skipped; an empty cell is an empty list.
 *       table: items      #   required: each element is hashed like a categorical value into it.
 *       pooling: attention  # [sum] sum | mean of the element embeddings (any model), or attention
 *                         #   from `target` (model din only: DIN's activation unit per element).
 *       target: C1        #   attention only, required: a features.categorical field in the same
 *                         #   table (the candidate item) whose embedding attends over the list.
 *       hash_as: C1       #   [the target with attention, else the list's own name] the field whose
 *                         #   salt hashes the elements, so an element and the same value in that
 *                         #   column share one id and one row.
 *   missing_categorical: hash  # [hash] an empty categorical cell: hash = hash the literal "" (each
 *                              # field has its own "missing" id); drop = no id: the batch mask is 0
 *                              # and the model uses a zero vector.
 *   table_defaults:       # [none] what each tables entry inherits for the keys it leaves out.
 *     dim: 16
 *     optimizer: { kind: adagrad, lr: 0.05 }
 *     initializer: { kind: uniform, scale: 0.01 }
 *   tables:               # every table used above, each used at least once, names unique.
 *     - name: c1          # required. [A-Za-z0-9_.-]{1,128} (the PS table-name rule).
 *       dim: 16           # required here or in table_defaults. 1..4096.
 *       optimizer:        # required here or in table_defaults. The PS optimizers, snake_case keys:
 *         kind: adagrad   #   sgd {lr} | adagrad {lr, initial_accumulator [0.1], eps [1e-10]}
 *         lr: 0.05        #   | adam {lr, beta1 [0.9], beta2 [0.999], eps [1e-8]}
 *                         #   | ftrl {alpha, beta [0], l1 [0], l2 [0], initial_accumulator [0.1]}
 *                         #   each also takes l2_reg [off]: l2_reg · w is added to the gradient
 *                         #   of each row a push touches (a lazy L2 penalty), and
 *                         #   clip_norm [off]: a row's summed gradient of larger
 *                         #   L2 norm is scaled down to it before the update.
 *       initializer: { kind: uniform, scale: 0.01 }  # [table_defaults, else uniform 0.01]
 *                         #   zeros | constant {value} | uniform {scale} | normal {std}
 *       seed: 1           # [training.seed] uint32 seed of the row initialiser.
 * model:                  # required
 *   kind: deepfm          # required. lr | fm | deepfm | widedeep | dcn | din.
 *                         #   lr: every table must have dim 1 (an embedding is a linear weight).
 *                         #   fm, deepfm, din: every table must have the same dim, and one is required.
 *                         #   din: needs a features.lists entry with pooling: attention.
 *   hidden: [400, 400]    # [[400, 400]] MLP widths; deepfm, widedeep, dcn and din only (1..16 layers).
 *   cross_layers: 3       # [3] dcn only; 1..16.
 *   dense_optimizer: { kind: adam, lr: 0.001 }  # [adam 0.001] optimizer of the dense weights.
 *   dropout: 0.2          # [0] deepfm, widedeep, dcn and din only: each hidden unit of the MLP is
 *                         #   dropped with this probability in training steps (kept units scaled
 *                         #   by 1 / (1 − rate)); none at evaluation. In [0, 0.999].
 * training:               # [all defaults]
 *   batch_size: 1024      # [1024] rows per worker step, 1..1048576. The default suits full-size
 *                         #   logs; on a sample of a few thousand rows 256 scored better (the
 *                         #   examples set it; docs/adr/0025).
 *   epochs: 1             # [1] passes over data.train.
 *   max_inflight_pushes: 2  # [0] unacknowledged gradient pushes of a worker training alone;
 *                         #   0 = synchronous. W workers training at once share the job-wide
 *                         #   k + 1 steps in flight: each keeps floor((k + 1) / W) - 1.
 *   dense_sync_every: 1   # [1] pull the dense weights every k steps.
 *   seed: 1               # [0] uint32 seed of shuffling and initialisation.
 *   wire_encoding: f16    # [f32] f32 | f16: values and gradients of the worker's pulls and
 *                         #   pushes as IEEE half floats (half the bytes on the wire).
 *   data_thread: true     # [false] cluster workers read, transform, pull and push on a thread
 *                         #   of their own while the model computes (same rows, same numbers).
 *   early_stop:           # [off] end training once the eval metric (evaluated after every
 *     metric: auc         #   epoch; needs eval data) has not improved for `patience` epochs.
 *     patience: 2         #   metric [auc] auc | logloss; patience [1] >= 1; min_delta [0]: a
 *     min_delta: 0.0005   #   smaller gain is no improvement. The model of the last epoch is kept.
 * ```
 */
import { checkSpecLimits } from './spec-limits';
import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { JobSpecError } from './spec-error';
import type { JobSpec } from './types';
import { validateJobSpec } from './validate';

export { JobSpecError } from './spec-error';
export { jobSpecToPlain, jobSpecToYaml, modelFingerprint, specFingerprint } from './canonical';
export { embeddingTableSpecs } from './ps-config';

/** YAML aliases allowed per document; a small limit stops "billion laughs" expansion. */
const MAX_YAML_ALIASES = 100;

/**
 * Parses and validates a job spec from YAML text.
 *
 * ```ts
 * const spec = parseJobSpec('name: t\ndata: { format: criteo }\nmodel: { kind: lr }\n'
 *   + 'features:\n  categorical: [{ name: C1, table: w }]\n'
 *   + '  tables: [{ name: w, dim: 1, optimizer: { kind: ftrl, alpha: 0.05 } }]\n');
 * spec.training.batchSize; // 1024
 * ```
 *
 * @param text the YAML (one document)
 * @param source how to name the text in messages (a file name)
 * @throws JobSpecError (TESSERA_ERR_CONFIG) for invalid YAML or an invalid spec.
 */
export function parseJobSpec(text: string, source = '<inline>'): JobSpec {
  checkSpecLimits(text, source);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    throw new JobSpecError('', `invalid YAML: ${e.message}`, { source, line: pos.line, column: pos.col });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    // yaml refuses an alias bomb with a ReferenceError ("Excessive alias count ..."): the user's file, not a bug.
    throw new JobSpecError('', `invalid YAML: ${(e as Error).message} (at most ${MAX_YAML_ALIASES} alias expansions)`, { source });
  }
  try {
    return validateJobSpec(value);
  } catch (e) {
    if (!(e instanceof JobSpecError)) throw e;
    const pos = locate(doc, lineCounter, e.keyPath);
    throw new JobSpecError(e.keyPath, e.detail, { source, line: pos?.line, column: pos?.col });
  }
}

/**
 * Reads and validates a job spec file; messages are prefixed with `path`.
 *
 * ```ts
 * const spec = loadJobSpec('examples/criteo-deepfm.yaml');
 * ```
 *
 * @throws TesseraError CONFIG when the file cannot be read; JobSpecError when it is invalid.
 */
export function loadJobSpec(path: string): JobSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TesseraError(ERROR_CODES.CONFIG, `cannot read job spec ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseJobSpec(text, path);
}

/**
 * Where `keyPath` (or its nearest ancestor present in the file) is written. Paths that only exist
 * after defaulting (a dim inherited from table_defaults) resolve to their entry.
 */
function locate(doc: Document, lc: LineCounter, keyPath: string): { line: number; col: number } | undefined {
  const segs = (keyPath.match(/[^.[\]]+|\[\d+\]/g) ?? [])
    .map((s) => (s.startsWith('[') ? Number(s.slice(1, -1)) : s));
  for (let n = segs.length; n > 0; n--) {
    const node = doc.getIn(segs.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]);
  }
  return undefined;
}
