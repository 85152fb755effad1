/**
 * Issue 14: SlicedEval, per-slice AUC, LogLoss, calibration and count with the top slices by
 * count and an `other` bucket in bounded memory, plus grouped AUC.
 */
import { expect } from 'chai';
import { auc, calibration, logLoss } from '../../../src/eval/metrics';
import { FieldValue, SliceMetrics, SlicedEval } from '../../../src/eval/sliced-eval';

type Row = { f: Record<string, FieldValue>; p: number; y: number };

/** 9 rows: city a (4 rows), b (3), missing (2: once undefined, once ""); tier 1 or 2; user u1/u2. */
const ROWS: Row[] = [
  { f: { city: 'a', tier: 1, user: 'u1' }, p: 0.9, y: 1 },
  { f: { city: 'a', tier: 1, user: 'u1' }, p: 0.2, y: 0 },
  { f: { city: 'a', tier: 2, user: 'u2' }, p: 0.4, y: 1 },
  { f: { city: 'a', tier: 2, user: 'u2' }, p: 0.6, y: 0 },
  { f: { city: 'b', tier: 1, user: 'u1' }, p: 0.3, y: 0 },
  { f: { city: 'b', tier: 1, user: 'u2' }, p: 0.3, y: 1 },
  { f: { city: 'b', tier: 2, user: 'u1' }, p: 0.1, y: 0 },
  { f: { tier: 2, user: 'u1' }, p: 0.7, y: 1 },
  { f: { city: '', tier: 2, user: 'u2' }, p: 0.5, y: 1 },
];

function run(opts: ConstructorParameters<typeof SlicedEval>[0], rows = ROWS): SlicedEval {
  const s = new SlicedEval(opts);
  for (const r of rows) s.add(r.f, r.p, r.y);
  return s;
}

/** The exact figures of `rows`, to compare with a slice. */
function exact(rows: Row[]): { count: number; auc: number; logloss: number; calibration: number } {
  const y = rows.map((r) => r.y);
  const p = rows.map((r) => r.p);
  return { count: rows.length, auc: auc(y, p), logloss: logLoss(y, p), calibration: calibration(y, p) };
}

function expectSlice(m: SliceMetrics | null, rows: Row[]): void {
  const e = exact(rows);
  expect(m, 'slice').to.not.equal(null);
  expect(m!.count).to.equal(e.count);
  if (Number.isNaN(e.auc)) expect(m!.auc).to.be.NaN;
  else expect(Math.abs(m!.auc - e.auc)).to.be.at.most(m!.auc_max_error);
  expect(m!.logloss).to.be.closeTo(e.logloss, 1e-12);
  if (Number.isNaN(e.calibration)) expect(m!.calibration).to.be.NaN;
  else expect(m!.calibration).to.be.closeTo(e.calibration, 1e-12);
}

const where = (pred: (r: Row) => boolean): Row[] => ROWS.filter(pred);

describe('eval/SlicedEval (issue 14)', () => {
  it('reports each value of one field, largest first, with a missing value as (missing)', () => {
    const r = run({ sliceBy: ['city'] }).report();
    expect(r.slicings).to.have.length(1);
    const s = r.slicings[0];
    expect(s.top.map((m) => [m.slice, m.count])).to.deep.equal([['city=a', 4], ['city=b', 3], ['city=(missing)', 2]]);
    expect(s).to.include({ values: 3, other: null, over_cap_rows: 0 });
    expectSlice(s.top[0], where((x) => x.f.city === 'a'));
    expect(s.top[0].auc).to.equal(0.75); // 0.9 beats 0.2 and 0.6, 0.4 beats 0.2 only: 3 of 4 pairs
    expectSlice(s.top[1], where((x) => x.f.city === 'b'));
    expect(s.top[1].auc).to.equal(0.75); // 0.3 ties 0.3 (½) and beats 0.1 (1): 1.5 / 2
    expectSlice(s.top[2], where((x) => !x.f.city));
    expect(s.top[2].auc).to.be.NaN; // only clicks: no AUC, null in JSON
    expectSlice(r.overall, ROWS);
    expect(r.overall.slice).to.equal('all');
    expect(r.gauc).to.equal(null);
  });

  it('keeps the top K by count and merges the rest into other', () => {
    const s = run({ sliceBy: ['city'], topK: 1 }).report().slicings[0];
    expect(s.top.map((m) => m.slice)).to.deep.equal(['city=a']);
    expect(s.other!.slice).to.equal('other');
    expectSlice(s.other, where((x) => x.f.city !== 'a'));
    expect(s.top[0].count + s.other!.count).to.equal(ROWS.length);
  });

  it('slices by each field and by their combination, named FIELD=value,FIELD2=value', () => {
    const r = run({ sliceBy: ['city', 'tier'] }).report();
    expect(r.slicings.map((s) => s.fields)).to.deep.equal([['city'], ['tier'], ['city', 'tier']]);
    const tier = r.slicings[1];
    expect(tier.top.map((m) => [m.slice, m.count])).to.deep.equal([['tier=2', 5], ['tier=1', 4]]);
    expectSlice(tier.top[0], where((x) => x.f.tier === 2));
    const combo = r.slicings[2];
    expect(combo.top.map((m) => [m.slice, m.count])).to.deep.equal([
      ['city=(missing),tier=2', 2], ['city=a,tier=1', 2], ['city=a,tier=2', 2], ['city=b,tier=1', 2], ['city=b,tier=2', 1],
    ]);
    expectSlice(combo.top[1], where((x) => x.f.city === 'a' && x.f.tier === 1));
  });

  it('holds at most maxSlices values; rows of later values go to other and every row is counted once', () => {
    const rows: Row[] = ['x', 'y', 'z', 'z', 'z', 'x'].map((v, i) => ({ f: { k: v }, p: 0.1 * (i + 1), y: i % 2 }));
    const s = run({ sliceBy: ['k'], maxSlices: 2 }, rows).report().slicings[0];
    expect(s).to.include({ values: 2, over_cap_rows: 3 });
    expect(s.top.map((m) => [m.slice, m.count])).to.deep.equal([['k=x', 2], ['k=y', 1]]);
    expectSlice(s.other, rows.filter((r) => r.f.k === 'z'));
  });

  it('reports an empty evaluation without slices, and with no rows in other', () => {
    const r = new SlicedEval({ sliceBy: ['city'], groupBy: 'user' }).report();
    expect(r.overall.count).to.equal(0);
    expect(r.overall.auc).to.be.NaN;
    expect(r.slicings[0]).to.deep.equal({ fields: ['city'], values: 0, top: [], other: null, over_cap_rows: 0 });
    expect(r.gauc).to.deep.include({ field: 'user', groups: 0, gauc: NaN });
  });

  it('reports grouped AUC by the groupBy field', () => {
    const g = run({ sliceBy: [], groupBy: 'user' }).report().gauc!;
    const u1 = where((x) => x.f.user === 'u1');
    const u2 = where((x) => x.f.user === 'u2');
    const a1 = exact(u1).auc;
    const a2 = exact(u2).auc;
    expect(g.field).to.equal('user');
    expect(g.gauc).to.be.closeTo((a1 * u1.length + a2 * u2.length) / ROWS.length, 1e-15);
    expect(g).to.include({ groups: 2, rows: 9 });
  });

  it('refuses a bad row without counting it anywhere, and a field named twice', () => {
    const s = run({ sliceBy: ['city'], groupBy: 'user' });
    expect(() => s.add({ city: 'a' }, 0.5, 3)).to.throw('label must be 0 or 1 (got 3)');
    expect(s.report().overall.count).to.equal(ROWS.length);
    expect(s.report().slicings[0].top[0].count).to.equal(4);
    expect(() => new SlicedEval({ sliceBy: ['city', 'city'] })).to.throw('field city is named twice among the slice fields');
  });
});
