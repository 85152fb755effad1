import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { ownerOf, planShardMap, type PsEndpoint, type ShardMap } from '../../../src/sharding/shard-map';
import { gatherRows, sliceByOwner, stitchRows, type Slice } from '../../../src/sharding/slicer';
import { idsFrom } from '../../../src/wire/key-block';
import { dedup } from '../../helpers/ids';
import { Rng } from './rng';

const ps = (n: number): PsEndpoint[] => Array.from({ length: n }, (_, i) => ({ id: i, addr: `ps-${i}:7000` }));

/** The value a fake PS stores for dimension d of id (lo, hi); exact in float32. */
const valueOf = (lo: number, hi: number, d: number): number => ((lo ^ hi) & 0xfff) * 16 + d;

/** What a fake PS answers for one slice: [count × dim] values in slice order. */
function answer(slice: Slice, dim: number): Float32Array {
  const n = slice.positions.length, rows = new Float32Array(n * dim);
  for (let j = 0; j < n; j++) for (let d = 0; d < dim; d++) rows[j * dim + d] = valueOf(slice.ids[2 * j], slice.ids[2 * j + 1], d);
  return rows;
}

function randomIds(rng: Rng, n: number): Uint32Array {
  const ids = new Uint32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) ids[i] = rng.u32();
  return dedup(ids).unique;
}

/** Checks the slice invariants: owner, input order, positions form an exact cover of the batch. */
function expectValidSlices(ids: Uint32Array, map: ShardMap, slices: Slice[]): void {
  const covered = new Uint8Array(ids.length / 2);
  let prevPs = -1;
  for (const s of slices) {
    expect(s.psIndex, 'slices ordered by psIndex').to.be.above(prevPs);
    prevPs = s.psIndex;
    expect(s.positions.length, 'no empty slice').to.be.above(0);
    expect(s.ids.length).to.equal(2 * s.positions.length);
    for (let j = 0; j < s.positions.length; j++) {
      const p = s.positions[j];
      if (j > 0) expect(p, 'input order kept').to.be.above(s.positions[j - 1]);
      expect([s.ids[2 * j], s.ids[2 * j + 1]]).to.deep.equal([ids[2 * p], ids[2 * p + 1]]);
      expect(ownerOf(map, s.ids[2 * j], s.ids[2 * j + 1])).to.equal(s.psIndex);
      covered[p]++;
    }
  }
  expect(covered.every((c) => c === 1), 'every id in exactly one slice').to.equal(true);
}

describe('sharding/slicer', () => {
  it('slice then stitch reproduces per-id values over 1..5 PS', () => {
    const rng = new Rng(51);
    for (let numPs = 1; numPs <= 5; numPs++) {
      const map = planShardMap(ps(numPs), { numBuckets: 64 });
      for (const [n, dim] of [[1, 1], [17, 4], [500, 8], [3000, 3]]) {
        const ids = randomIds(rng, n);
        const slices = sliceByOwner(ids, map);
        expectValidSlices(ids, map, slices);
        const out = new Float32Array(n * dim).fill(NaN);
        for (const s of slices) stitchRows(s, answer(s, dim), dim, out);
        for (let i = 0; i < n; i++) {
          for (let d = 0; d < dim; d++) {
            if (out[i * dim + d] !== valueOf(ids[2 * i], ids[2 * i + 1], d)) expect.fail(`row ${i} dim ${d}, ${numPs} PS`);
          }
        }
      }
    }
  });

  it('skips PS that own no id of the batch, and returns no slice for an empty batch', () => {
    const map = planShardMap(ps(5), { numBuckets: 64 });
    const rng = new Rng(52);
    const picked: number[] = [];
    while (picked.length < 40) {
      const lo = rng.u32();
      if ([1, 3].includes(ownerOf(map, lo, 0))) picked.push(lo);
    }
    const slices = sliceByOwner(idsFrom(picked), map);
    expect(slices.map((s) => s.psIndex)).to.deep.equal([1, 3]);
    expect(sliceByOwner(new Uint32Array(0), map)).to.deep.equal([]);
  });

  it('lays every slice out in one buffer of 3 words an id: its ids, then its positions, slice after slice', () => {
    const map = planShardMap(ps(3), { numBuckets: 16 });
    const slices = sliceByOwner(randomIds(new Rng(53), 100), map);
    let at = 0;
    for (const s of slices) {
      expect([s.ids.buffer, s.positions.buffer]).to.deep.equal([slices[0].ids.buffer, slices[0].ids.buffer]);
      expect([s.ids.byteOffset, s.positions.byteOffset]).to.deep.equal([4 * at, 4 * (at + s.ids.length)]);
      at += s.ids.length + s.positions.length;
    }
    expect(slices[0].ids.buffer.byteLength).to.equal(12 * 100);
  });

  it('takes the slices\' words from one reused buffer when given one, overwriting whatever it held (issue 18 §1)', () => {
    const map = planShardMap(ps(3), { numBuckets: 64 });
    const ids = randomIds(new Rng(54), 3000);
    const taken: Uint32Array[] = [];
    const alloc = (words: number): Uint32Array => {
      const w = new Uint32Array(words + 7).fill(0xdeadbeef).subarray(7); // dirty, and not at its buffer's start
      taken.push(w);
      return w;
    };
    const pooled = sliceByOwner(ids, map, undefined, alloc);
    expectValidSlices(ids, map, pooled);
    expect(taken.map((w) => w.length)).to.deep.equal([3 * 3000]);
    for (const s of pooled) expect([s.ids.buffer, s.positions.buffer]).to.deep.equal([taken[0].buffer, taken[0].buffer]);
    const fresh = sliceByOwner(ids, map);
    expect(pooled.map((s) => [s.psIndex, Array.from(s.ids), Array.from(s.positions)]))
      .to.deep.equal(fresh.map((s) => [s.psIndex, Array.from(s.ids), Array.from(s.positions)]));
  });

  it('uses an injected partition function instead of the bucket map', () => {
    const map = planShardMap(ps(3), { numBuckets: 16 });
    const ids = idsFrom([0n, 1n, 2n, 3n, 4n, 5n, 7n]);
    const slices = sliceByOwner(ids, map, (lo) => (lo % 4 === 3 ? 2 : 0));
    expect(slices.map((s) => [s.psIndex, Array.from(s.positions)])).to.deep.equal([
      [0, [0, 1, 2, 4, 5]],
      [2, [3, 6]],
    ]);
    expect(() => sliceByOwner(ids, map, () => 3)).to.throw(/ownerFn returned 3 for id index 0; expected an integer in \[0, 3\)/);
    expect(() => sliceByOwner(ids, map, () => 0.5)).to.throw(/ownerFn returned 0.5/);
    expect(() => sliceByOwner(new Uint32Array(3), map)).to.throw(/odd length/).with.property('code', ERROR_CODES.BAD_IDS);
  });

  it('gatherRows picks one slice\'s rows in slice order', () => {
    const map = planShardMap(ps(4), { numBuckets: 32 });
    const ids = randomIds(new Rng(54), 300);
    const dim = 5;
    const grads = new Float32Array(300 * dim).map((_, k) => k); // row i = [5i, 5i+1, ...]
    for (const s of sliceByOwner(ids, map)) {
      const rows = gatherRows(s, grads, dim);
      expect(rows.length).to.equal(s.positions.length * dim);
      s.positions.forEach((p, j) => {
        expect(Array.from(rows.subarray(j * dim, (j + 1) * dim))).to.deep.equal([0, 1, 2, 3, 4].map((d) => p * dim + d));
      });
    }
    const slice: Slice = { psIndex: 0, ids: idsFrom([1n]), positions: new Uint32Array([4]) };
    expect(() => gatherRows(slice, new Float32Array(8), 2)).to.throw(/position 4 is outside src \(\[4 × 2\]\)/);
    expect(() => gatherRows(slice, new Float32Array(9), 2)).to.throw(/not a multiple of dim 2/);
    expect(() => gatherRows(slice, new Float32Array(8), 0)).to.throw(/dim must be a positive integer/);
  });

  it('gatherRows writes into a caller\'s buffer of the exact size, and refuses another size (issue 18 §1)', () => {
    const slice: Slice = { psIndex: 0, ids: idsFrom([1n, 2n]), positions: new Uint32Array([3, 1]) };
    const grads = new Float32Array(8).map((_, k) => k);
    const out = new Float32Array(4).fill(-1);
    expect(gatherRows(slice, grads, 2, 0, 2, out)).to.equal(out);
    expect(Array.from(out)).to.deep.equal([6, 7, 2, 3]);
    expect(() => gatherRows(slice, grads, 2, 0, 2, new Float32Array(5))).to.throw(/out has 5 values, expected 2 rows × dim 2/);
  });

  it('stitches and gathers a slice a range of rows at a time, as the client splits requests', () => {
    const map = planShardMap(ps(3), { numBuckets: 32 });
    const n = 400, dim = 3;
    const ids = randomIds(new Rng(56), n);
    const grads = new Float32Array(n * dim).map((_, k) => k);
    const out = new Float32Array(n * dim).fill(NaN);
    for (const s of sliceByOwner(ids, map)) {
      const rows = answer(s, dim);
      for (let a = 0; a < s.positions.length; a += 7) {
        const b = Math.min(s.positions.length, a + 7);
        stitchRows(s, rows.subarray(a * dim, b * dim), dim, out, a, b);
        expect(Array.from(gatherRows(s, grads, dim, a, b))).to.deep.equal(Array.from(gatherRows(s, grads, dim).subarray(a * dim, b * dim)));
      }
    }
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) expect(out[i * dim + d]).to.equal(valueOf(ids[2 * i], ids[2 * i + 1], d));
    const s = sliceByOwner(ids, map)[0];
    expect(() => stitchRows(s, answer(s, dim), dim, out, 1, 0)).to.throw(/rows \[1, 0\) are not within the slice's/);
  });

  it('stitchRows rejects a PS answer of the wrong length, naming the PS', () => {
    const map = planShardMap(ps(2), { numBuckets: 16 });
    const ids = randomIds(new Rng(55), 50);
    const slices = sliceByOwner(ids, map);
    expect(slices).to.have.length(2);
    const short = answer(slices[1], 4).subarray(1);
    const n1 = slices[1].positions.length;
    expect(() => stitchRows(slices[1], short, 4, new Float32Array(200)))
      .to.throw(new RegExp(`rows \\(ps index 1\\) has ${4 * n1 - 1} values, expected ${n1} ids × dim 4`))
      .with.property('code', ERROR_CODES.DIM_MISMATCH);
    const last = slices.reduce((m, s) => Math.max(m, s.positions[s.positions.length - 1]), 0);
    const owner = slices.find((s) => s.positions[s.positions.length - 1] === last)!;
    expect(() => stitchRows(owner, answer(owner, 4), 4, new Float32Array(199))).to.throw(/out has 199 values, too short for row 49 × dim 4/);
  });
});
