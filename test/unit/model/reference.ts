/**
 * Plain float64 reference forward passes of every model, written from the formulas in the model
 * files' headers and reading the flat vector only through `layout` names. Tests compare the tfjs
 * models to these, so a missing or wrong term shows up even though autodiff would stay consistent.
 */
import type { BatchInputs, CtrModel } from '../../../src/model/models';

type Vec = number[];

function slice(model: CtrModel, params: Float32Array, name: string): Float32Array {
  const s = model.layout.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no slice ${name}`);
  return params.subarray(s.offset, s.offset + s.size);
}

/** y = act(x·W + b), W row-major [in, out]. */
function dense(x: Vec, w: Float32Array, b: Float32Array, relu: boolean): Vec {
  const out = Array.from(b);
  x.forEach((xi, i) => { for (let j = 0; j < out.length; j++) out[j] += xi * w[i * out.length + j]; });
  return relu ? out.map((v) => Math.max(0, v)) : out;
}

function dot(a: Vec, b: ArrayLike<number>): number {
  return a.reduce((s, v, i) => s + v * b[i], 0);
}

/** A dropout mask: the factor on unit `unit` of hidden layer `layer` (1 without dropout). */
export type UnitMask = (layer: number, unit: number) => number;

const NO_MASK: UnitMask = () => 1;

function mlpHidden(model: CtrModel, params: Float32Array, x: Vec, mask: UnitMask): Vec {
  return model.config.hidden.reduce((h, _, i) =>
    dense(h, slice(model, params, `mlp.${i}.w`), slice(model, params, `mlp.${i}.b`), true).map((v, c) => v * mask(i, c)), x);
}

function mlpLogit(model: CtrModel, params: Float32Array, x: Vec, mask: UnitMask): number {
  return dense(mlpHidden(model, params, x, mask), slice(model, params, 'mlp.out.w'), slice(model, params, 'mlp.out.b'), false)[0];
}

function fm(v: Vec[], dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const sum = v.reduce((a, row) => a + row[d], 0);
    const sq = v.reduce((a, row) => a + row[d] * row[d], 0);
    s += 0.5 * (sum * sum - sq);
  }
  return s;
}

function dcn(model: CtrModel, params: Float32Array, x0: Vec, mask: UnitMask): number {
  let x = x0;
  for (let l = 0; l < (model.config.crossLayers ?? 3); l++) {
    const wx = dense(x, slice(model, params, `cross.${l}.w`), slice(model, params, `cross.${l}.b`), false);
    x = x0.map((v, i) => v * wx[i] + x[i]);
  }
  const top = model.config.hidden.length > 0 ? [...x, ...mlpHidden(model, params, x0, mask)] : x;
  return dense(top, slice(model, params, 'out.w'), slice(model, params, 'out.b'), false)[0];
}

/**
 * The fields of example `b` after pooling: each list replaced by Σ_k [k < len] (1 + a(h_k, t)) h_k
 * (attention; a = DIN's activation unit over [h, t, h − t, h ⊙ t]) or the masked sum or mean.
 * `v` holds one vector per field (length 1 for first-order weights, which attention lists sum).
 */
function pooledFields(model: CtrModel, params: Float32Array, inputs: BatchInputs, b: number, v: Vec[]): Vec[] {
  const lists = model.config.lists ?? [];
  const out: Vec[] = [];
  let cursor = 0;
  lists.forEach((l, i) => {
    out.push(...v.slice(cursor, l.offset));
    const len = (inputs.listLengths as Float32Array)[b * lists.length + i];
    const h = v.slice(l.offset, l.offset + len);
    const weight = (hk: Vec): number => {
      if (l.pooling !== 'attention' || hk.length !== model.config.embDim) return l.pooling === 'mean' ? 1 / Math.max(1, len) : 1;
      const t = v[l.target as number];
      const unitIn = [...hk, ...t, ...hk.map((x, d) => x - t[d]), ...hk.map((x, d) => x * t[d])];
      const hid = dense(unitIn, slice(model, params, `att.${i}.0.w`), slice(model, params, `att.${i}.0.b`), true);
      return 1 + dense(hid, slice(model, params, `att.${i}.out.w`), slice(model, params, `att.${i}.out.b`), false)[0];
    };
    out.push(h.reduce((acc, hk) => { const w = weight(hk); return acc.map((a, d) => a + w * hk[d]); }, new Array(v[0].length).fill(0)));
    cursor = l.offset + l.length;
  });
  return [...out, ...v.slice(cursor)];
}

/** Logit of example `b` by the reference formulas; `mask` applies dropout to the MLP's units. */
export function referenceLogit(model: CtrModel, params: Float32Array, inputs: BatchInputs, b: number, mask: UnitMask = NO_MASK): number {
  const { numFields: F, embDim: D, numDense: N, kind } = model.config;
  const v: Vec[] = pooledFields(model, params, inputs, b,
    Array.from({ length: F }, (_, f) => Array.from(inputs.emb.subarray((b * F + f) * D, (b * F + f + 1) * D))));
  const lin = pooledFields(model, params, inputs, b, Array.from(inputs.linear.subarray(b * F, (b + 1) * F), (x) => [x]))
    .reduce((a, x) => a + x[0], 0);
  const dn = Array.from(inputs.dense.subarray(b * N, (b + 1) * N));
  const x0 = [...v.flat(), ...dn];
  const wide = (): number => (N > 0 ? dot(dn, slice(model, params, 'dense.w')) : 0);
  switch (kind) {
    case 'lr': return lin + wide() + slice(model, params, 'bias')[0];
    case 'fm': return lin + wide() + slice(model, params, 'bias')[0] + fm(v, D);
    case 'deepfm': return lin + fm(v, D) + mlpLogit(model, params, x0, mask);
    case 'widedeep': return lin + wide() + mlpLogit(model, params, x0, mask);
    case 'dcn': return dcn(model, params, x0, mask);
    case 'din': return mlpLogit(model, params, x0, mask);
  }
}

/** Reference probabilities of the whole batch. */
export function referenceProbs(model: CtrModel, params: Float32Array, inputs: BatchInputs): number[] {
  return Array.from({ length: inputs.batch }, (_, b) => 1 / (1 + Math.exp(-referenceLogit(model, params, inputs, b))));
}
