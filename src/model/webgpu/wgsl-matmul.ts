/**
 * A tiled matrix product in WGSL, generated around three small functions that the caller writes:
 * `loadA(r, k)`, `loadB(k, c)` and `store(r, c, v, split)`. Fusing happens in those functions:
 * a loader may concatenate two buffers, transpose, or form an operand on the fly (the last layer's
 * dz = dlogit ⊗ w_out ⊙ relu'), and the store may add a bias and apply ReLU, mask by ReLU's
 * derivative, or add the FM term's gradient. One dispatch then does what tfjs does in several.
 *
 * Each workgroup of 16×16 threads computes a 64×64 tile of the result, 4×4 per thread (rows and
 * columns strided by 16, so that neighbouring threads touch neighbouring addresses), stepping
 * through K 16 at a time through workgroup memory. The tiles are padded to a stride of 65 floats
 * so that a column written by neighbouring threads falls in different memory banks.
 *
 * With `split`, the K range is cut into `u.splits` slices of `u.rowsPerSplit` (the z dimension of
 * the grid) and `store` receives the slice: the weight gradients reduce over the batch this way
 * (split-K), so that a 429×400 gradient still fills the GPU; a later pass sums the slices.
 */

/** Rows and columns of a result tile; the workgroup is 16 × 16 threads, 4 × 4 results each. */
export const MATMUL_TILE = 64;
const TK = 16;
const STRIDE = MATMUL_TILE + 1;

/** One generated product: `result[r, c] = Σ_k A[r, k]·B[k, c]` over the functions given. */
export interface MatmulSpec {
  /** Body of `fn loadA(r: u32, k: u32) -> f32` (called only in range). */
  loadA: string;
  /** Body of `fn loadB(k: u32, c: u32) -> f32` (called only in range). */
  loadB: string;
  /** Body of `fn store(r: u32, c: u32, v: f32, split: u32)` (called only in range). */
  store: string;
  /** WGSL u32 expressions of the sizes (they may read the uniforms `u`). */
  m: string;
  n: string;
  k: string;
  /** A's consecutive addresses run along k (row-major A); false: along r (a transposed view). */
  aAlongK: boolean;
  /** B's consecutive addresses run along c (row-major B); false: along k (a transposed view). */
  bAlongN: boolean;
  /** Cut K into `u.splits` slices over the grid's z (see the file header). */
  split: boolean;
}

function tileLoads(spec: MatmulSpec): string {
  const a = spec.aAlongK ? `let am = e / ${TK}u; let ak = e % ${TK}u;` : `let am = e % TILE; let ak = e / TILE;`;
  const b = spec.bAlongN ? `let bk = e / TILE; let bn = e % TILE;` : `let bk = e % ${TK}u; let bn = e / ${TK}u;`;
  return `
    for (var j = 0u; j < 4u; j++) {
      let e = li + j * 256u;
      ${a}
      var a = 0.0;
      if (row0 + am < M && k0 + ak < kEnd) { a = loadA(row0 + am, k0 + ak); }
      tileA[ak * STRIDE + am] = a;
      ${b}
      var b = 0.0;
      if (k0 + bk < kEnd && col0 + bn < N) { b = loadB(k0 + bk, col0 + bn); }
      tileB[bk * STRIDE + bn] = b;
    }`;
}

/** The unrolled 4×4 multiply-add of one k step, on registers a0..a3, b0..b3, c00..c33. */
function innerProduct(): string {
  return `var av: array<f32, 4>; var bv: array<f32, 4>;
        for (var i = 0u; i < 4u; i++) { av[i] = tileA[kk * STRIDE + lid.y + 16u * i]; bv[i] = tileB[kk * STRIDE + lid.x + 16u * i]; }
        for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]); } }`;
}

function stores(): string {
  return `for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) {
    let r = row0 + lid.y + 16u * i; let c = col0 + lid.x + 16u * j; if (r < M && c < N) { store(r, c, acc[i * 4u + j], wg.z); } } }`;
}

/**
 * WGSL of one product; `header` declares the bindings, the uniforms `u` and any helper the
 * functions call. Dispatch it over `matmulGrid`.
 */
export function matmulWgsl(header: string, spec: MatmulSpec): string {
  const acc = 'var acc: array<f32, 16>;';
  return `${header}
const TILE = ${MATMUL_TILE}u;
const STRIDE = ${STRIDE}u;
var<workgroup> tileA: array<f32, ${TK * STRIDE}>;
var<workgroup> tileB: array<f32, ${TK * STRIDE}>;
fn loadA(r: u32, k: u32) -> f32 { ${spec.loadA} }
fn loadB(k: u32, c: u32) -> f32 { ${spec.loadB} }
fn store(r: u32, c: u32, v: f32, split: u32) { ${spec.store} }

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = ${spec.m};
  let N = ${spec.n};
  let K = ${spec.k};
  let row0 = wg.y * TILE;
  let col0 = wg.x * TILE;
  let kBegin = ${spec.split ? 'wg.z * u.rowsPerSplit' : '0u'};
  let kEnd = ${spec.split ? 'min(K, kBegin + u.rowsPerSplit)' : 'K'};
  ${acc}
  for (var k0 = kBegin; k0 < kEnd; k0 += ${TK}u) {${tileLoads(spec)}
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk++) {
        ${innerProduct()}
    }
    workgroupBarrier();
  }
  ${stores()}
}
`;
}

/** Workgroups for an m × n result (z: the K slices when split). */
export function matmulGrid(m: number, n: number, splits: number): [number, number, number] {
  return [Math.ceil(n / MATMUL_TILE), Math.ceil(m / MATMUL_TILE), splits];
}
