/**
 * Scale: a table grown to 10M rows through many index rehashes keeps every row bit-exact, and so
 * does an f16 table (tagged index, matches confirmed in the slot metadata) grown to 2M rows.
 * dim 4 with SGD (no optimizer state) keeps it to ~160 MB of slabs + ~165 MB of index and
 * well under 30 s on a 2-core machine.
 */
import { expect } from 'chai';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { InitializerConfig, initRow } from '../../../src/ps/store/initializers';
import { fmix32 } from '../../../src/common/fmix32';
import { halfDecodeTable, toHalfBits } from '../../../src/wire/f16';

const N = 10_000_000;
const DIM = 4;
const BATCH = 8192;
const SEED = 1234;
const INIT: InitializerConfig = { kind: 'uniform', scale: 0.05 };

/** Fills `ids` with pseudo-random 64-bit ids number `from .. from + count`. */
function genIds(ids: Uint32Array, from: number, count: number): Uint32Array {
  for (let k = 0; k < count; k++) {
    ids[2 * k] = fmix32(from + k);
    ids[2 * k + 1] = fmix32((from + k) ^ 0x5bd1e995);
  }
  return ids.subarray(0, 2 * count);
}

describe('EmbeddingTable at 10M rows', function () {
  this.timeout(120000);

  it('keeps every row bit-exact through repeated index rehashes', () => {
    const t = new EmbeddingTable({ name: 'big', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, initializer: INIT, seed: SEED });
    const ids = new Uint32Array(2 * BATCH);
    const out = new Float32Array(BATCH * DIM);
    // Distinctive rows written while the index is still tiny: 1000 by putRow, 1000 by pull + push.
    const marked = genIds(new Uint32Array(4000), N, 2000);
    for (let k = 0; k < 1000; k++) {
      t.putRow(marked[2 * k], marked[2 * k + 1], Float32Array.of(k, k + 0.5, -k, k * 0.25), new Float32Array(0));
    }
    const pushedIds = marked.subarray(2000);
    const grad = new Float32Array(1000 * DIM).map((_, i) => (i % 7) - 3);
    t.pull(pushedIds, new Float32Array(1000 * DIM));
    t.push(pushedIds, grad);
    const capacityBefore = t.indexCapacity;

    for (let from = 0; from < N; from += BATCH) t.pull(genIds(ids, from, Math.min(BATCH, N - from)), out);
    expect(t.size).to.equal(N + 2000);
    expect(t.indexCapacity / capacityBefore).to.be.at.least(2 ** 8); // at least 8 rehashes since the marks (x2, then x1.25)

    const expected = new Float32Array(BATCH * DIM);
    const got32 = new Uint32Array(out.buffer);
    const exp32 = new Uint32Array(expected.buffer);
    let mismatches = 0;
    for (let from = 0; from < N; from += BATCH) {
      const n = Math.min(BATCH, N - from);
      const batch = genIds(ids, from, n);
      t.peek(batch, out);
      for (let k = 0; k < n; k++) initRow(INIT, SEED, batch[2 * k], batch[2 * k + 1], expected, k * DIM, DIM);
      for (let j = 0; j < n * DIM; j++) if (got32[j] !== exp32[j]) mismatches++;
    }
    expect(mismatches).to.equal(0);
    expect(t.size).to.equal(N + 2000); // peek inserted nothing

    const check = new Float32Array(2000 * DIM);
    t.peek(marked, check);
    for (let k = 0; k < 1000; k++) {
      expect(Array.from(check.subarray(k * DIM, (k + 1) * DIM))).to.deep.equal([k, k + 0.5, -k, k * 0.25]);
    }
    const init = new Float32Array(DIM);
    for (let k = 0; k < 1000; k++) {
      initRow(INIT, SEED, pushedIds[2 * k], pushedIds[2 * k + 1], init, 0, DIM);
      for (let j = 0; j < DIM; j++) {
        expect(check[(1000 + k) * DIM + j]).to.equal(Math.fround(init[j] - grad[k * DIM + j]));
      }
    }
  });

  it('keeps every f16 row bit-exact through repeated rehashes of the tagged index', () => {
    const n = 2_000_000;
    const t = new EmbeddingTable({
      name: 'half', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, initializer: INIT, seed: SEED, weightFormat: 'f16',
    });
    const ids = new Uint32Array(2 * BATCH);
    const out = new Float32Array(BATCH * DIM);
    const marked = genIds(new Uint32Array(2000), n, 1000);
    for (let k = 0; k < 1000; k++) {
      t.putRow(marked[2 * k], marked[2 * k + 1], Float32Array.of(k, k + 0.5, -k, k * 0.25), new Float32Array(0));
    }
    const capacityBefore = t.indexCapacity;
    for (let from = 0; from < n; from += BATCH) t.pull(genIds(ids, from, Math.min(BATCH, n - from)), out);
    expect(t.size).to.equal(n + 1000);
    expect(t.indexCapacity / capacityBefore).to.be.at.least(2 ** 8);

    const half = halfDecodeTable();
    const expected = new Float32Array(BATCH * DIM);
    let mismatches = 0;
    for (let from = 0; from < n; from += BATCH) {
      const m = Math.min(BATCH, n - from);
      const batch = genIds(ids, from, m);
      t.peek(batch, out);
      for (let k = 0; k < m; k++) initRow(INIT, SEED, batch[2 * k], batch[2 * k + 1], expected, k * DIM, DIM);
      for (let j = 0; j < m * DIM; j++) if (!Object.is(out[j], half[toHalfBits(expected[j])])) mismatches++;
    }
    expect(mismatches).to.equal(0);
    const check = new Float32Array(1000 * DIM);
    t.peek(marked, check);
    for (let k = 0; k < 1000; k++) {
      expect(Array.from(check.subarray(k * DIM, (k + 1) * DIM))).to.deep.equal([k, k + 0.5, -k, k * 0.25]);
    }
    expect(t.size).to.equal(n + 1000); // peek inserted nothing
  });
});
