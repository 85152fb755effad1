import { expect } from 'chai';
import { gatherTable, planSlots, presentOnly, scatterTable } from '../../../src/infer/batch-assembler';

describe('batch assembler: per-table rows ↔ per-row model fields', () => {
  const { slots, numFields } = planSlots(['a', 'b', 'unused'], { a: ['f1', 'f2'], b: ['f3'] });

  it('plans field offsets in table order and skips tables without fields', () => {
    expect(numFields).to.equal(3);
    expect(slots.map((s) => [s.name, s.fields, s.fieldOffset])).to.deep.equal([['a', 2, 0], ['b', 1, 2]]);
  });

  it('gathers two tables into [B × F × D] and scatters gradients back exactly', () => {
    const B = 2;
    const D = 2;
    const rowsA = Float32Array.from([1, 1, 2, 2, /* row 1 */ 3, 3, 4, 4]); // [B × 2 × D]
    const rowsB = Float32Array.from([5, 5, /* row 1 */ 6, 6]); // [B × 1 × D]
    const out = new Float32Array(B * numFields * D);
    gatherTable(rowsA, slots[0], numFields, D, B, out);
    gatherTable(rowsB, slots[1], numFields, D, B, out);
    expect(Array.from(out)).to.deep.equal([1, 1, 2, 2, 5, 5, 3, 3, 4, 4, 6, 6]);
    expect(Array.from(scatterTable(out, slots[0], numFields, D, B))).to.deep.equal(Array.from(rowsA));
    expect(Array.from(scatterTable(out, slots[1], numFields, D, B))).to.deep.equal(Array.from(rowsB));
  });

  it('one table for every field: gathers with one copy and hands the gradient on uncopied (issue 18 §3)', () => {
    const whole = planSlots(['t'], { t: ['f1', 'f2'] });
    const rows = Float32Array.from([1, 2, 3, 4, /* row 1 */ 5, 6, 7, 8]); // [B=2 × 2 × D=2]
    const out = new Float32Array(rows.length).fill(9);
    gatherTable(rows, whole.slots[0], whole.numFields, 2, 2, out);
    expect(Array.from(out)).to.deep.equal(Array.from(rows));
    const grad = Float32Array.from(rows, (v) => v / 10);
    const back = scatterTable(grad, whole.slots[0], whole.numFields, 2, 2);
    expect(back.buffer).to.equal(grad.buffer);
    expect(Array.from(back)).to.deep.equal(Array.from(grad));
    // With a dropped field the copy (and its zeroing) still happens.
    const masked = scatterTable(grad, whole.slots[0], whole.numFields, 2, 2, Uint8Array.from([1, 0, 1, 1]));
    expect(masked.buffer).to.not.equal(grad.buffer);
    expect(Array.from(masked.subarray(2, 4))).to.deep.equal([0, 0]);
  });

  it('zeroes dropped fields on the way in and drops them from pushes', () => {
    const mask = Uint8Array.from([1, 0, 0, 1]); // row 0 f2 and row 1 f1 dropped
    const out = new Float32Array(2 * numFields * 1);
    gatherTable(Float32Array.from([1, 2, 3, 4]), slots[0], numFields, 1, 2, out, mask);
    expect(Array.from(out)).to.deep.equal([1, 0, 0, 0, 4, 0]);
    const ids = Uint32Array.from([10, 0, 20, 0, 30, 0, 40, 0]);
    const g = presentOnly(ids, Float32Array.from([0.1, 0.2, 0.3, 0.4]), 1, mask);
    expect(Array.from(g.ids)).to.deep.equal([10, 0, 40, 0]);
    expect(Array.from(g.grads)).to.deep.equal([Math.fround(0.1), Math.fround(0.4)]);
  });
});
