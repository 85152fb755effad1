/**
 * Issue 13: the optimizer's self-describing value `{kind, params}` (wire and manifest) and the
 * descriptor table it is derived from.
 */
import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'chai';
import { optimizerFromSpec, optimizerToSpec } from '../../../src/ps/optimizers/optimizer-spec';
import type { OptimizerParam } from '../../../src/ps/optimizers/optimizer';
import { createOptimizer, OPTIMIZER_KINDS, OPTIMIZERS } from '../../../src/ps/optimizers/registry';

/** dist/test/unit/ps → repository root. */
const ROOT = path.resolve(__dirname, '../../../..');

describe('optimizer spec {kind, params} (issue 13)', () => {
  it('keeps a zero that is sent and leaves an absent name to its default', () => {
    const cfg = optimizerFromSpec({ kind: 'adam', params: { lr: 0.01, beta1: 0 } });
    expect(cfg).to.deep.equal({ kind: 'adam', lr: 0.01, beta1: 0 });
    expect(createOptimizer(cfg).config).to.deep.equal({ kind: 'adam', lr: 0.01, beta1: 0, beta2: 0.999, eps: 1e-8 });
  });

  it('round-trips every config, by the YAML names', () => {
    const cfg = createOptimizer({ kind: 'ftrl', alpha: 0.1, initialAccumulator: 0 }).config;
    const spec = optimizerToSpec(cfg);
    expect(spec).to.deep.equal({ kind: 'ftrl', params: { alpha: 0.1, beta: 0, l1: 0, l2: 0, initial_accumulator: 0 } });
    expect(optimizerFromSpec(spec)).to.deep.equal(cfg);
  });

  it('refuses an unknown kind or name, naming it and the known ones', () => {
    expect(() => optimizerFromSpec({ kind: 'rmsprop', params: {} })).to.throw('optimizer.kind must be one of sgd, adagrad, adam, ftrl');
    expect(() => optimizerFromSpec({ kind: 'adagrad', params: { lr: 1, initialAccumulator: 0 } }, 'spec.optimizer'))
      .to.throw('spec.optimizer.params.initialAccumulator is not a known key; expected one of kind, lr, initial_accumulator, eps')
      .with.property('code', 'TESSERA_ERR_INVALID_ARGUMENT');
  });

  it('the kinds are the descriptor table\'s, and each descriptor builds its own kind', () => {
    expect(OPTIMIZER_KINDS).to.deep.equal(Object.keys(OPTIMIZERS));
    for (const d of Object.values(OPTIMIZERS)) {
      const required = Object.fromEntries(d.params.filter((p) => p.default === undefined && !p.optional).map((p) => [p.key, 0.5]));
      const opt = createOptimizer({ kind: d.kind, ...required } as never);
      expect(opt.kind).to.equal(d.kind);
      expect(opt.stateWidth(16)).to.equal(d.stateWidth(16));
    }
  });

  it('docs/wire-protocol.md lists every optimizer with its names and defaults', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'wire-protocol.md'), 'utf8');
    for (const d of Object.values(OPTIMIZERS)) {
      const row = doc.split('\n').find((l) => l.includes(`| \`${d.kind}\` |`));
      expect(row, `a row for ${d.kind}`).to.be.a('string');
      const note = (p: OptimizerParam) => (p.optional ? ' (optional)' : p.default === undefined ? '' : ` (${p.default})`);
      const listed = d.params.map((p) => `\`${p.name}\`${note(p)}`).join(', ');
      expect(row).to.include(listed);
    }
  });
});
