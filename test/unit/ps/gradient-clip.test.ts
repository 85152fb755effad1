/**
 * Issue 23, item 1: the optimizer's optional `clip_norm`: per-row L2 clipping before any
 * optimizer, absent by default, and carried as one more key of the optimizer's self-describing
 * value (so the wire, the manifest and the YAML carry it like the optimizer's own keys).
 */
import { expect } from 'chai';
import { optimizerFromSpec, optimizerToSpec } from '../../../src/ps/optimizers/optimizer-spec';
import { createOptimizer } from '../../../src/ps/optimizers/registry';
import { tableLayoutOf, tableSpecOfLayout } from '../../../src/ps/table-layout';
import { normalizeTableSpec } from '../../../src/ps/store/table-spec';

describe('clip_norm (issue 23)', () => {
  it('scales a row whose L2 norm exceeds clip_norm down to it; leaves a smaller row alone', () => {
    const opt = createOptimizer({ kind: 'sgd', lr: 1, clipNorm: 1 });
    const w = new Float32Array(2);
    opt.apply(w, 0, w, 2, Float32Array.of(3, 4), 0, 2);
    expect(Array.from(w)).to.deep.equal([Math.fround(-0.6), Math.fround(-0.8)]);
    opt.apply(w, 0, w, 2, Float32Array.of(0.3, 0.4), 0, 2);
    expect(Array.from(w)).to.deep.equal([Math.fround(Math.fround(-0.6) - Math.fround(0.3)), Math.fround(Math.fround(-0.8) - Math.fround(0.4))]);
  });

  it('is absent unless set, and refused unless > 0, naming the key', () => {
    expect(createOptimizer({ kind: 'adagrad', lr: 0.1 }).config).to.not.have.property('clipNorm');
    expect(createOptimizer({ kind: 'adagrad', lr: 0.1, clipNorm: 2 }).config).to.include({ clipNorm: 2 });
    expect(() => createOptimizer({ kind: 'adam', lr: 0.1, clipNorm: 0 })).to.throw('optimizer.clipNorm must be > 0 (got 0)');
  });

  it('crosses the wire value and the manifest record as clip_norm', () => {
    const cfg = createOptimizer({ kind: 'ftrl', alpha: 0.1, clipNorm: 5 }).config;
    expect(optimizerToSpec(cfg).params).to.include({ clip_norm: 5 });
    expect(createOptimizer(optimizerFromSpec(optimizerToSpec(cfg))).config).to.deep.equal(cfg);
    const spec = { name: 'e', kind: 'embedding' as const, dim: 4, optimizer: { kind: 'sgd' as const, lr: 0.1, clipNorm: 0.5 } };
    const layout = tableLayoutOf(spec);
    expect(layout.optimizer.params).to.deep.equal({ lr: 0.1, clip_norm: 0.5 });
    expect(normalizeTableSpec(tableSpecOfLayout(layout))).to.deep.equal(normalizeTableSpec(spec));
  });
});
