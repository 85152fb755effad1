/**
 * The shape of a fused GPU step: which terms a tower model's logit has, where each weight lives in
 * the flat dense vector, and how the batch-sized GPU buffers are laid out for a batch capacity.
 *
 * The fused step covers the models whose logit is first-order terms plus an MLP tower with at
 * least one hidden layer: DeepFM (Σ linear + FM + MLP) and Wide & Deep (Σ linear + dense·w + MLP).
 * LR, FM and DCN, and towers without hidden layers, step through tfjs's kernels instead.
 *
 * Buffers (sizes in floats, `cap` = batch capacity). Every offset a kernel uses is independent of
 * the capacity, so the kernels depend only on the model's shape and a growing batch only
 * reallocates buffers:
 * - one input buffer per part of the batch: `emb [cap×F·D]`, `linear [cap×F]`,
 *   `dense [cap×numDense]`, `labels [cap]`, written as the host holds them;
 * - work, row-interleaved: row r holds `h_i [hidden[i]]` for each layer, `dz_i [hidden[i]]` for all
 *   but the last (its dz is formed where it is read), `sums [D]` (FM: Σ_f v_fd) and `dlogit [1]`;
 * - res, what is read back, laid out per step for the actual batch B: `denseGrad [P] | logits [B] |
 *   linearGrad [B×F] | embGrad [B×F·D]`;
 * - partials: `[MAX_SPLITS × P]`, one copy of the dense gradient per slice of the batch.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import type { ModelConfig, ParamSlice } from '../types';

/** The batch is cut into at most this many slices for the weight gradients (split-K). */
export const MAX_SPLITS = 16;
/** A slice of the batch holds at least this many rows (and a multiple of the matmul's K tile). */
const MIN_SPLIT_ROWS = 256;
const K_TILE = 16;

/** Offsets of one model's weights in the flat vector, and its dimensions. */
export interface TowerPlan {
  readonly kind: 'deepfm' | 'widedeep';
  /** Categorical fields, embedding dim, F·D, numeric features. */
  readonly f: number;
  readonly d: number;
  readonly fd: number;
  readonly nd: number;
  /** Hidden widths h_0 … h_{L-1} (L ≥ 1) and each layer's input width. */
  readonly hidden: readonly number[];
  readonly inWidth: readonly number[];
  /** The logit has the FM term (DeepFM). */
  readonly fm: boolean;
  /** The logit has Σ_f linear (both kinds, when F > 0). */
  readonly linear: boolean;
  /** Dropout rate of the hidden layers while training (0: none); masks as in ../dropout.ts. */
  readonly dropout: number;
  /** Offset of the wide `dense.w` (Wide & Deep with numeric features), else -1. */
  readonly wideW: number;
  /** Offsets of `mlp.<i>.w` and `mlp.<i>.b`; each bias directly follows its weight. */
  readonly w: readonly number[];
  readonly b: readonly number[];
  readonly outW: number;
  readonly outB: number;
  /** Length of the dense vector. */
  readonly p: number;
}

/** Offsets within one row of the work buffer (see the file header). */
export interface WorkRow {
  /** Floats per row. */
  readonly width: number;
  readonly h: readonly number[];
  /** dz of each layer; -1 for the last (formed on the fly). */
  readonly dz: readonly number[];
  readonly sums: number;
  readonly dlogit: number;
}

/** Floats of each buffer for batches of up to `cap` rows. */
export interface BufferSizes {
  readonly emb: number;
  readonly lin: number;
  readonly dense: number;
  readonly labels: number;
  readonly work: number;
  readonly res: number;
  readonly part: number;
}

/** The per-step values every kernel reads from its uniform buffer. */
export interface StepShape {
  batch: number;
  splits: number;
  rowsPerSplit: number;
  outLogits: number;
  outLinear: number;
  outEmb: number;
  /** The training step's dropout key (dropout.ts `dropoutKey`); 0 when predicting. */
  dropKey: number;
}

/** Whether the fused step covers this model (not one with list inputs: they pool in the tfjs step). */
export function fusable(cfg: Readonly<ModelConfig>): boolean {
  return (cfg.kind === 'deepfm' || cfg.kind === 'widedeep') && cfg.hidden.length >= 1 && !cfg.lists?.length;
}

function offsetOf(layout: readonly ParamSlice[], name: string): number {
  const s = layout.find((x) => x.name === name);
  if (s === undefined) throw new TesseraError(ERROR_CODES.INTERNAL, `fused webgpu step: the layout has no slice '${name}'`);
  return s.offset;
}

/** The plan of a fusable model (`fusable(cfg)` must hold). */
export function towerPlan(cfg: Readonly<ModelConfig>, layout: readonly ParamSlice[], denseSize: number): TowerPlan {
  const f = cfg.numFields;
  const fd = f * cfg.embDim;
  const hidden = [...cfg.hidden];
  return {
    kind: cfg.kind as TowerPlan['kind'],
    f, d: cfg.embDim, fd, nd: cfg.numDense, hidden,
    inWidth: hidden.map((_, i) => (i === 0 ? fd + cfg.numDense : hidden[i - 1])),
    fm: cfg.kind === 'deepfm',
    linear: f > 0,
    dropout: cfg.dropout ?? 0,
    wideW: cfg.kind === 'widedeep' && cfg.numDense > 0 ? offsetOf(layout, 'dense.w') : -1,
    w: hidden.map((_, i) => offsetOf(layout, `mlp.${i}.w`)),
    b: hidden.map((_, i) => offsetOf(layout, `mlp.${i}.b`)),
    outW: offsetOf(layout, 'mlp.out.w'),
    outB: offsetOf(layout, 'mlp.out.b'),
    p: denseSize,
  };
}

/** The layout of a work row. */
export function workRow(plan: TowerPlan): WorkRow {
  let at = 0;
  const take = (n: number): number => { const o = at; at += n; return o; };
  const h = plan.hidden.map((w) => take(w));
  const dz = plan.hidden.map((w, i) => (i === plan.hidden.length - 1 ? -1 : take(w)));
  const sums = take(plan.fm ? plan.d : 0);
  const dlogit = take(1);
  return { width: at, h, dz, sums, dlogit };
}

/** Buffer sizes for batches of up to `cap` rows. */
export function bufferSizes(plan: TowerPlan, cap: number): BufferSizes {
  return {
    emb: cap * plan.fd, lin: cap * plan.f, dense: cap * plan.nd, labels: cap,
    work: cap * workRow(plan).width,
    res: plan.p + cap * (1 + plan.f + plan.fd),
    part: MAX_SPLITS * plan.p,
  };
}

/** The uniforms of one step of `batch` rows. */
export function stepShape(plan: TowerPlan, batch: number): StepShape {
  const wanted = Math.min(MAX_SPLITS, Math.max(1, Math.ceil(batch / MIN_SPLIT_ROWS)));
  const rowsPerSplit = Math.ceil(Math.ceil(batch / wanted) / K_TILE) * K_TILE;
  return {
    batch,
    splits: Math.ceil(batch / rowsPerSplit),
    rowsPerSplit,
    outLogits: plan.p,
    outLinear: plan.p + batch,
    outEmb: plan.p + batch + batch * plan.f,
    dropKey: 0,
  };
}

/** Floats read back after a step: the whole `out` prefix for training, the logits for predict. */
export function readbackFloats(plan: TowerPlan, batch: number, train: boolean): number {
  return train ? plan.p + batch * (1 + plan.f + plan.fd) : batch;
}
