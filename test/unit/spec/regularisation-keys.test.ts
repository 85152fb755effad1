/**
 * Issue 21, item 3: the job spec's regularisation keys: `model.dropout`, `training.early_stop`
 * and the optimizers' `l2_reg`; each is validated naming its key, round-trips through the
 * canonical YAML, and is absent from it (fingerprint unchanged) when not set.
 */
import { expect } from 'chai';
import { MAX_DROPOUT } from '../../../src/model/dropout';
import { embeddingTableSpecs, jobSpecToYaml, parseJobSpec, specFingerprint } from '../../../src/spec/job-spec';
import { checkEarlyStopEval } from '../../../src/spec/overrides';
import { JOB_SPEC_LIMITS } from '../../../src/spec/types';
import { baseSpec, expectSpecError, parseObject } from './fixtures';

describe('job spec: dropout, early_stop, l2_reg (issue 21)', () => {
  it('parses them with defaults filled in, hands them on, and round-trips the canonical YAML', () => {
    const s = baseSpec();
    s.model.dropout = 0.25;
    s.training = { early_stop: { patience: 3 } };
    s.features.tables[0].optimizer.l2_reg = 1e-5;
    const spec = parseObject(s);
    expect(spec.model.dropout).to.equal(0.25);
    expect(spec.training.earlyStop).to.deep.equal({ metric: 'auc', patience: 3, minDelta: 0 });
    expect(embeddingTableSpecs(spec)[0].optimizer).to.include({ l2Reg: 1e-5 });
    const again = parseJobSpec(jobSpecToYaml(spec));
    expect(again).to.deep.equal(spec);
    expect(specFingerprint(again)).to.equal(specFingerprint(spec));
  });

  it('leaves the canonical YAML (and fingerprint) of a spec without them unchanged', () => {
    const spec = parseObject(baseSpec());
    expect(spec.model.dropout).to.equal(0);
    expect(spec.training.earlyStop).to.equal(undefined);
    expect(jobSpecToYaml(spec)).to.not.match(/dropout|early_stop|l2_reg/);
  });

  it('refuses bad values naming the key', () => {
    const edit = (f: (s: Record<string, any>) => void) => { const s = baseSpec(); f(s); return s; };
    expectSpecError(edit((s) => { s.model.dropout = 1; }), 'model.dropout', `must be <= ${JOB_SPEC_LIMITS.maxDropout}`);
    expectSpecError(edit((s) => { s.model = { kind: 'fm', dropout: 0.1 }; }), 'model.dropout', 'not used by model fm (it has no MLP)');
    expectSpecError(edit((s) => { s.training = { early_stop: { metric: 'ndcg' } }; }), 'training.early_stop.metric', 'unknown metric "ndcg" (expected one of auc, logloss)');
    expectSpecError(edit((s) => { s.training = { early_stop: { patience: 0 } }; }), 'training.early_stop.patience', 'must be >= 1');
    expectSpecError(edit((s) => { s.training = { early_stop: { patiense: 2 } }; }), 'training.early_stop.patiense', 'unknown key');
    expectSpecError(edit((s) => { s.features.tables[0].optimizer.l2_reg = -1; }), 'features.tables[0].optimizer.l2_reg', 'must be >= 0');
  });

  it('the spec bounds dropout as the model does', () => {
    expect(JOB_SPEC_LIMITS.maxDropout).to.equal(MAX_DROPOUT);
  });

  it('early_stop without eval data is refused in one line naming the fix', () => {
    const s = baseSpec();
    s.training = { early_stop: { patience: 1 } };
    expect(() => checkEarlyStopEval(parseObject(s))).to.throw(/^training\.early_stop needs evaluation data: pass --eval PATH or set data\.eval/);
    s.data.eval = 'eval.tsv';
    expect(() => checkEarlyStopEval(parseObject(s))).to.not.throw();
  });
});
