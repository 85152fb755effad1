/**
 * bench:quality's helpers (issue #21): the seed spread, the Avazu rows the PyTorch peer reads,
 * the spec variants and the flags.
 */
import { expect } from 'chai';
import * as path from 'node:path';
import { avazuAsCriteo } from '../../../bench/quality/datasets';
import { parseQualityOptions } from '../../../bench/quality/options';
import { bestEpoch, runsTable, stageWinner } from '../../../bench/quality-search';
import { asModel, modelMisfit, withF16, withSeed } from '../../../bench/quality/spec-variants';
import { spread } from '../../../bench/quality/spread';
import { parseAvazuLine, parseCriteoLine } from '../../../src/data/parsers';
import { loadJobSpec } from '../../../src/spec/job-spec';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const AVAZU_LINE = '1000009418151094273,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,'
  + 'a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79';

describe('bench:quality helpers', () => {
  it('spread: mean, sample standard deviation, min and max', () => {
    const s = spread([0.70, 0.72, 0.74]);
    expect(s.mean).to.be.closeTo(0.72, 1e-12);
    expect(s.sd).to.be.closeTo(0.02, 1e-12);
    expect([s.min, s.max]).to.deep.equal([0.70, 0.74]);
    expect(spread([0.5]).sd).to.equal(0);
    expect(() => spread([])).to.throw(/no values/);
  });

  it('an Avazu row becomes a Criteo line carrying the same categorical strings and label', () => {
    const avazu = parseAvazuLine(AVAZU_LINE);
    const criteo = parseCriteoLine(avazuAsCriteo(AVAZU_LINE));
    expect(criteo.label).to.equal(avazu.label);
    expect(criteo.numeric.every((v) => v === null)).to.equal(true);
    expect(criteo.categorical.slice(0, avazu.categorical.length)).to.deep.equal(avazu.categorical);
    expect(criteo.categorical.slice(avazu.categorical.length).every((v) => v === null)).to.equal(true);
  });

  it('variants of a shipped example stay valid: seeds reach every table, lr gets dim-1 tables, f16 weights', () => {
    const base = loadJobSpec(path.join(ROOT, 'examples', 'criteo-deepfm.yaml'));
    const seeded = withSeed(base, 7);
    expect(seeded.training.seed).to.equal(7);
    expect(seeded.features.tables.every((t) => t.seed === 7)).to.equal(true);
    const lr = asModel(base, 'lr');
    expect(lr.model.kind).to.equal('lr');
    expect(lr.features.tables.every((t) => t.dim === 1)).to.equal(true);
    expect(asModel(base, 'fm').model.hidden).to.deep.equal([]);
    expect(withF16(base).features.tables.every((t) => t.weightFormat === 'f16')).to.equal(true);
  });

  it('flags: defaults sized for this machine, and one line naming a bad flag', () => {
    const o = parseQualityOptions([]);
    expect(o.seeds).to.deep.equal([1, 2, 3]);
    expect([o.trainRows, o.validRows, o.workers]).to.deep.equal([6000, 2000, 4]);
    expect(parseQualityOptions(['--datasets', 'avazu', '--models', 'dcn,lr']).models).to.deep.equal(['dcn', 'lr']);
    expect(() => parseQualityOptions(['--models', 'dfm'])).to.throw(/--models: unknown "dfm"/);
    expect(() => parseQualityOptions(['--seed', '1'])).to.throw(/unknown flag --seed/);
    expect(() => parseQualityOptions(['--workers', '-1'])).to.throw(/--workers must be an integer >= 0/);
  });

  it('the search table: AUC mean ± sd per epoch, LogLoss at the best epoch, a blank past a short run', () => {
    const runs = [
      { key: 'a', stage: 'table optimizer', label: 'adam 0.001', aucs: [[0.70, 0.72], [0.72, 0.74]], loglosses: [[0.48, 0.46], [0.50, 0.44]] },
      { key: 'b', stage: 'MLP dropout', label: '0.1', aucs: [[0.73]], loglosses: [[0.47]] },
    ];
    expect(bestEpoch(runs[0].aucs)).to.include({ epoch: 2 });
    expect(runsTable(runs).split('\n')).to.deep.equal([
      '| stage | candidate | AUC epoch 1 | AUC epoch 2 | LogLoss at best |',
      '|---|---|---|---|---|',
      '| table optimizer | adam 0.001 | 0.7100 ± 0.0141 | 0.7300 ± 0.0141 | 0.4500 |',
      '| MLP dropout | 0.1 | 0.7300 ± 0.0000 |  | 0.4700 |',
    ]);
  });

  it('a search stage keeps its incoming value unless another beats it by more than the margin', () => {
    const at = (auc: number, incumbent = false) => ({ label: `${auc}`, auc, incumbent });
    expect(stageWinner([at(0.7273, true), at(0.7284), at(0.7260)], 0.002).label).to.equal('0.7273');
    expect(stageWinner([at(0.7273, true), at(0.7300), at(0.7260)], 0.002).label).to.equal('0.73');
    expect(stageWinner([at(0.7273), at(0.7284)], 0.002).label, 'no incumbent: the best').to.equal('0.7284');
  });

  it('the DIN example: other models sum-pool its history hashed as the candidate; no DIN without an attended list', () => {
    const din = loadJobSpec(path.join(ROOT, 'examples', 'synthetic-din.yaml'));
    expect(modelMisfit(din, 'din')).to.equal(undefined);
    const deepfm = asModel(din, 'deepfm');
    expect(deepfm.features.lists.map((l) => [l.pooling, l.hashAs, l.target])).to.deep.equal([['sum', 'C1', undefined]]);
    expect(asModel(din, 'din').features.lists[0].pooling).to.equal('attention');
    const criteo = loadJobSpec(path.join(ROOT, 'examples', 'criteo-deepfm.yaml'));
    expect(modelMisfit(criteo, 'din')).to.match(/din needs a list field with pooling: attention, which criteo-deepfm has none of/);
    expect(modelMisfit(criteo, 'dcn')).to.equal(undefined);
    expect(parseQualityOptions([]).datasets).to.include('sequence');
  });
});
