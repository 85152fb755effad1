/**
 * Issue 14: grouped AUC (GAUC), the impression-weighted mean of exact per-group AUC over the
 * groups holding both classes, under caps on groups and rows held.
 */
import { expect } from 'chai';
import { mulberry32Unit } from '../../../src/common/mulberry32';
import { GroupedAuc } from '../../../src/eval/grouped-auc';
import { auc } from '../../../src/eval/metrics';

/** Rows as (group, p, label). */
type Row = [string, number, number];

const HAND: Row[] = [
  ['a', 0.9, 1], ['b', 0.2, 1], ['a', 0.1, 0], ['c', 0.3, 1], ['d', 0.6, 1],
  ['a', 0.5, 0], ['b', 0.8, 0], ['c', 0.4, 1], ['d', 0.6, 0],
];

function grouped(rows: Row[], opts: { maxGroups?: number; maxRows?: number } = {}): GroupedAuc {
  const g = new GroupedAuc(opts);
  for (const [k, p, y] of rows) g.add(k, p, y);
  return g;
}

describe('eval/GroupedAuc (issue 14)', () => {
  it('weights each group\'s AUC by its rows, skips a group with one class, counts a tie one half', () => {
    // a: AUC 1 over 3 rows; b: AUC 0 over 2; c: only clicks, skipped; d: one tie, AUC 0.5 over 2.
    const r = grouped(HAND).report();
    expect(r.gauc).to.be.closeTo((3 * 1 + 2 * 0 + 2 * 0.5) / 7, 1e-15);
    expect(r.unweighted).to.be.closeTo((1 + 0 + 0.5) / 3, 1e-15);
    expect(r).to.include({ groups: 3, single_class_groups: 1, rows: 7, skipped_rows: 0 });
  });

  it('equals the definition on random groups of random sizes', () => {
    const u = mulberry32Unit(5);
    const byGroup = new Map<string, { p: number[]; y: number[] }>();
    const g = new GroupedAuc();
    for (let i = 0; i < 5000; i++) {
      const k = `u${Math.floor(u() ** 2 * 300)}`;
      const [p, y] = [Math.round(u() * 50) / 50, u() < 0.3 ? 1 : 0]; // rounded: many ties
      g.add(k, p, y);
      const e = byGroup.get(k) ?? byGroup.set(k, { p: [], y: [] }).get(k)!;
      e.p.push(p);
      e.y.push(y);
    }
    let num = 0;
    let den = 0;
    for (const { p, y } of byGroup.values()) {
      const a = auc(y, p);
      if (Number.isNaN(a)) continue;
      num += a * p.length;
      den += p.length;
    }
    expect(g.report().gauc).to.be.closeTo(num / den, 1e-12);
  });

  it('holds at most maxGroups groups and maxRows rows, counting the rows it skips', () => {
    const capped = grouped(HAND, { maxGroups: 2 }).report(); // a and b held; c and d skipped
    expect(capped).to.include({ groups: 2, rows: 5, skipped_rows: 4, single_class_groups: 0 });
    expect(capped.gauc).to.be.closeTo(3 / 5, 1e-15);
    const rows = grouped(HAND, { maxRows: 4 }).report(); // a's first two rows, b's first, c's first
    expect(rows).to.include({ groups: 1, rows: 2, skipped_rows: 5, single_class_groups: 2 });
    expect(rows.gauc).to.equal(1);
  });

  it('reports NaN with no group of both classes, and refuses bad rows and caps', () => {
    expect(new GroupedAuc().report()).to.deep.include({ groups: 0, rows: 0, gauc: NaN });
    expect(grouped([['x', 0.5, 1], ['y', 0.5, 0]]).report()).to.deep.include({ gauc: NaN, single_class_groups: 2 });
    expect(() => new GroupedAuc().add('x', 2, 1)).to.throw('prediction must be a number in [0, 1] (got 2)');
    expect(() => new GroupedAuc({ maxGroups: 0 })).to.throw('maxGroups must be an integer >= 1 (got 0)');
  });
});
