/**
 * The WGSL kernels of a fused tower step (tower-plan.ts), in dispatch order. For DeepFM with
 * hidden layers [h0, h1] a training step is 9 dispatches:
 *
 *   forward   h0 = relu(x0·W0 + b0)          x0 = emb ++ dense, read from both in place
 *             h1 = relu(h0·W1 + b1)
 *   head      logit = h1·w_out + b_out + Σ linear + FM(emb); dlogit = (σ(logit) − y) / B;
 *             linearGrad = dlogit; the per-row FM sums kept for the backward
 *   backward  [dW_out; db_out] = [h1 | 1]ᵀ·dlogit
 *             [dW1; db1] = [h0 | 1]ᵀ·dz1      dz1 = dlogit ⊗ w_out ⊙ relu'(h1), formed on the fly
 *             dz0 = (dz1·W1ᵀ) ⊙ relu'(h0)
 *             [dW0; db0] = [x0 | 1]ᵀ·dz0
 *             embGrad = (dz0·W0ᵀ)[:, emb columns] + dlogit·(Σ_f v − v)   (the FM gradient)
 *   reduce    denseGrad = Σ over the batch slices of the weight gradients
 *
 * Appending a column of ones to a layer's input makes one product give the weight gradient and
 * the bias gradient (the column sums of dz), and since each bias follows its weight in the flat
 * vector, the result lands where the dense gradient expects it. Wide & Deep adds one product for
 * its wide weights. A prediction is the forward kernels and the head.
 *
 * With dropout (training only) the forward kernels store h_i = relu(…) ⊙ m_i, the mask m_i
 * (0 or 1/(1 − rate)) computed in place from the step's key (../dropout.ts, the same hash the
 * tfjs path uses). A dropped unit then stores 0, so relu'(h) is already 0 there, and the backward
 * multiplies relu'(h) by 1/(1 − rate): dz = dy ⊙ relu'(z) ⊙ m, with no extra dispatch or buffer.
 */
import { dropoutWgsl } from '../dropout';
import { matmulGrid, matmulWgsl, type MatmulSpec } from './wgsl-matmul';
import { workRow, type StepShape, type TowerPlan, type WorkRow } from './tower-plan';

/** One compute kernel and its grid for a step. */
export interface TowerKernel {
  readonly name: string;
  readonly code: string;
  grid(s: StepShape): [number, number, number];
}

/** Bytes of the uniform block (`Step` below). */
export const UNIFORM_BYTES = 32;
/** Storage buffers after the uniforms, in binding order (the default limit is eight per stage). */
export const STORAGE_BINDINGS = ['params', 'emb', 'lin', 'dense', 'labels', 'work', 'res', 'part'] as const;
/** The storage buffers the kernels only read. */
export const READ_ONLY_BINDINGS: ReadonlySet<string> = new Set(STORAGE_BINDINGS.slice(0, 5));
const HEAD_WG = 64;
const REDUCE_WG = 256;
const MAX_GRID = 65535;

function header(plan: TowerPlan, row: WorkRow): string {
  const consts: Array<[string, number]> = [
    ['F', plan.f], ['D', plan.d], ['FD', plan.fd], ['ND', plan.nd], ['P', plan.p], ['WROW', row.width],
    ['SUMS', row.sums], ['DLOGIT', row.dlogit], ['OUTW', plan.outW], ['OUTB', plan.outB], ['WIDEW', Math.max(plan.wideW, 0)],
  ];
  const bindings = STORAGE_BINDINGS.map((name, i) =>
    `@group(0) @binding(${i + 1}) var<storage, ${READ_ONLY_BINDINGS.has(name) ? 'read' : 'read_write'}> ${name}: array<f32>;`);
  // relu1 is relu'(h) of a hidden activation, times 1/(1 − rate) under dropout (see the header).
  const relu1 = plan.dropout > 0 ? 'select(0.0, DROP_SCALE, h > 0.0)' : 'select(0.0, 1.0, h > 0.0)';
  return `struct Step { batch: u32, splits: u32, rowsPerSplit: u32, outLogits: u32, outLinear: u32, outEmb: u32, invBatch: f32, dropKey: u32, }
@group(0) @binding(0) var<uniform> u: Step;
${bindings.join('\n')}
${consts.map(([k, v]) => `const ${k} = ${v}u;`).join('\n')}
${plan.dropout > 0 ? dropoutWgsl(plan.dropout) : ''}
fn relu1(h: f32) -> f32 { return ${relu1}; }
fn x0(r: u32, k: u32) -> f32 { ${x0Body(plan)} }
`;
}

/** Column k of row r of `emb ++ dense`, read from the two regions of the input buffer. */
function x0Body(plan: TowerPlan): string {
  if (plan.nd === 0) return 'return emb[r * FD + k];';
  if (plan.fd === 0) return 'return dense[r * ND + k];';
  return 'if (k < FD) { return emb[r * FD + k]; } return dense[r * ND + (k - FD)];';
}

/** Layer i's input x_i(r, k). */
function xOf(row: WorkRow, i: number, r: string, k: string): string {
  return i === 0 ? `x0(${r}, ${k})` : `work[${r} * WROW + ${row.h[i - 1]}u + ${k}]`;
}

/** Layer i's dz(r, c); the last layer's is dlogit ⊗ w_out ⊙ relu'(h), formed here. */
function dzOf(plan: TowerPlan, row: WorkRow, i: number, r: string, c: string): string {
  if (i < plan.hidden.length - 1) return `work[${r} * WROW + ${row.dz[i]}u + ${c}]`;
  return `work[${r} * WROW + DLOGIT] * params[OUTW + ${c}] * relu1(work[${r} * WROW + ${row.h[i]}u + ${c}])`;
}

function matmul(name: string, head: string, spec: MatmulSpec, m: (s: StepShape) => number, n: number): TowerKernel {
  return { name, code: matmulWgsl(head, spec), grid: (s) => matmulGrid(m(s), n, spec.split ? s.splits : 1) };
}

/** Hidden layer i forward; `drop` applies the training step's dropout mask to what it stores. */
function forward(plan: TowerPlan, row: WorkRow, head: string, i: number, drop: boolean): TowerKernel {
  const h = plan.hidden[i];
  const mask = drop ? ` * select(0.0, DROP_SCALE, dropKeep(u.dropKey, ${i}u, r * ${h}u + c))` : '';
  return matmul(`forward.${i}${drop ? '.dropout' : ''}`, head, {
    m: 'u.batch', n: `${h}u`, k: `${plan.inWidth[i]}u`, aAlongK: true, bAlongN: true, split: false,
    loadA: `return ${xOf(row, i, 'r', 'k')};`,
    loadB: `return params[${plan.w[i]}u + k * ${h}u + c];`,
    store: `work[r * WROW + ${row.h[i]}u + c] = max(v + params[${plan.b[i]}u + c], 0.0)${mask};`,
  }, (s) => s.batch, h);
}

/** [x | 1]ᵀ·dz over the batch slices: the weight gradient with the bias gradient as its last row. */
function weightGrad(name: string, head: string, rows: number, withOnes: boolean, x: (k: string, r: string) => string,
  dz: (k: string, c: string) => string, n: number, region: number): TowerKernel {
  return matmul(name, head, {
    m: `${rows + (withOnes ? 1 : 0)}u`, n: `${n}u`, k: 'u.batch', aAlongK: false, bAlongN: true, split: true,
    loadA: withOnes ? `if (r < ${rows}u) { return ${x('k', 'r')}; } return 1.0;` : `return ${x('k', 'r')};`,
    loadB: `return ${dz('k', 'c')};`,
    store: `part[split * P + ${region}u + r * ${n}u + c] = v;`,
  }, () => rows + (withOnes ? 1 : 0), n);
}

/** dz_i·W_iᵀ: dz of the layer below (masked by its ReLU), or for layer 0 the embedding gradient. */
function inputGrad(plan: TowerPlan, row: WorkRow, head: string, i: number): TowerKernel {
  const h = plan.hidden[i];
  const n = i === 0 ? plan.fd : plan.inWidth[i];
  const fmGrad = plan.fm ? ' + work[r * WROW + DLOGIT] * (work[r * WROW + SUMS + c % D] - emb[r * FD + c])' : '';
  const store = i === 0
    ? `res[u.outEmb + r * FD + c] = v${fmGrad};`
    : `work[r * WROW + ${row.dz[i - 1]}u + c] = v * relu1(work[r * WROW + ${row.h[i - 1]}u + c]);`;
  return matmul(`input-grad.${i}`, head, {
    m: 'u.batch', n: `${n}u`, k: `${h}u`, aAlongK: true, bAlongN: false, split: false,
    loadA: `return ${dzOf(plan, row, i, 'r', 'k')};`,
    loadB: `return params[${plan.w[i]}u + c * ${h}u + k];`,
    store,
  }, (s) => s.batch, n);
}

/** A grid of `count` workgroups within the per-dimension limit (x first). */
function grid1d(items: number, size: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(items / size));
  return [Math.min(groups, MAX_GRID), Math.ceil(groups / MAX_GRID), 1];
}

const INDEX_1D = `@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32`;

function headTerms(plan: TowerPlan, row: WorkRow, train: boolean): string {
  const hl = plan.hidden[plan.hidden.length - 1];
  const lines = [`var z = params[OUTB];`,
    `for (var k = 0u; k < ${hl}u; k++) { z = fma(work[r * WROW + ${row.h[plan.hidden.length - 1]}u + k], params[OUTW + k], z); }`];
  if (plan.linear) lines.push('for (var f = 0u; f < F; f++) { z += lin[r * F + f]; }');
  if (plan.fm) {
    lines.push(`var fm = 0.0;
  for (var d = 0u; d < D; d++) {
    var s = 0.0; var q = 0.0;
    for (var f = 0u; f < F; f++) { let v = emb[r * FD + f * D + d]; s += v; q = fma(v, v, q); }
    fm += s * s - q;${train ? '\n    work[r * WROW + SUMS + d] = s;' : ''}
  }
  z += 0.5 * fm;`);
  }
  if (plan.wideW >= 0) lines.push('for (var j = 0u; j < ND; j++) { z = fma(dense[r * ND + j], params[WIDEW + j], z); }');
  return lines.join('\n  ');
}

/** One thread per row: the logit, and when training dlogit and the linear gradient. */
function headKernel(plan: TowerPlan, row: WorkRow, head: string, train: boolean): TowerKernel {
  const grad = !train ? '' : `
  let p = select(exp(z) / (1.0 + exp(z)), 1.0 / (1.0 + exp(-z)), z >= 0.0);
  let dl = (p - labels[r]) * u.invBatch;
  work[r * WROW + DLOGIT] = dl;${plan.linear ? '\n  for (var f = 0u; f < F; f++) { res[u.outLinear + r * F + f] = dl; }' : ''}`;
  const code = `${head}
@compute @workgroup_size(${HEAD_WG})
fn main(${INDEX_1D}) {
  let r = (wg.y * nwg.x + wg.x) * ${HEAD_WG}u + li;
  if (r >= u.batch) { return; }
  ${headTerms(plan, row, train)}
  res[u.outLogits + r] = z;${grad}
}
`;
  return { name: train ? 'head.train' : 'head.predict', code, grid: (s) => grid1d(s.batch, HEAD_WG) };
}

function reduceKernel(plan: TowerPlan, head: string): TowerKernel {
  const code = `${head}
@compute @workgroup_size(${REDUCE_WG})
fn main(${INDEX_1D}) {
  let e = (wg.y * nwg.x + wg.x) * ${REDUCE_WG}u + li;
  if (e >= P) { return; }
  var s = 0.0;
  for (var z = 0u; z < u.splits; z++) { s += part[z * P + e]; }
  res[e] = s;
}
`;
  return { name: 'reduce', code, grid: () => grid1d(plan.p, REDUCE_WG) };
}

/** The kernels of a training step and of a prediction, in dispatch order. */
export function towerKernels(plan: TowerPlan): { train: TowerKernel[]; predict: TowerKernel[] } {
  const row = workRow(plan);
  const head = header(plan, row);
  const last = plan.hidden.length - 1;
  const fwd = plan.hidden.map((_, i) => forward(plan, row, head, i, false));
  const trainFwd = plan.dropout > 0 ? plan.hidden.map((_, i) => forward(plan, row, head, i, true)) : fwd;
  const dlogit = (k: string): string => `work[${k} * WROW + DLOGIT]`;
  const back: TowerKernel[] = [weightGrad('weight-grad.out', head, plan.hidden[last], true,
    (k, r) => `work[${k} * WROW + ${row.h[last]}u + ${r}]`, dlogit, 1, plan.outW)];
  if (plan.wideW >= 0) {
    back.push(weightGrad('weight-grad.wide', head, plan.nd, false, (k, r) => `dense[${k} * ND + ${r}]`, dlogit, 1, plan.wideW));
  }
  for (let i = last; i >= 0; i--) {
    back.push(weightGrad(`weight-grad.${i}`, head, plan.inWidth[i], true, (k, r) => xOf(row, i, k, r),
      (k, c) => dzOf(plan, row, i, k, c), plan.hidden[i], plan.w[i]));
    if (i > 0 || plan.fd > 0) back.push(inputGrad(plan, row, head, i));
  }
  return {
    train: [...trainFwd, headKernel(plan, row, head, true), ...back, reduceKernel(plan, head)],
    predict: [...fwd, headKernel(plan, row, head, false)],
  };
}
