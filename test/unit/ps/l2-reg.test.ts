/**
 * Issue 21, item 3: the optimizers' optional `l2_reg`, a lazy L2 penalty on the rows a push
 * touches, carried as one more key of the optimizer's self-describing value.
 */
import { expect } from 'chai';
import { optimizerFromSpec, optimizerToSpec } from '../../../src/ps/optimizers/optimizer-spec';
import { createOptimizer } from '../../../src/ps/optimizers/registry';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { tableLayoutOf, tableSpecOfLayout } from '../../../src/ps/table-layout';
import { normalizeTableSpec } from '../../../src/ps/store/table-spec';
import { idsFrom } from '../../../src/wire/key-block';

const f = Math.fround;

describe('l2_reg (issue 21)', () => {
  it('SGD: w -= lr · (g + l2_reg · w), in float64 rounded once', () => {
    const opt = createOptimizer({ kind: 'sgd', lr: 0.1, l2Reg: 0.5 });
    const w = Float32Array.of(2, -4);
    opt.apply(w, 0, w, 2, Float32Array.of(1, 0), 0, 2);
    expect(Array.from(w)).to.deep.equal([f(2 - 0.1 * (1 + 0.5 * 2)), f(-4 - 0.1 * (0 + 0.5 * -4))]);
  });

  it('Adagrad sees the penalised gradient in its accumulator too', () => {
    const opt = createOptimizer({ kind: 'adagrad', lr: 0.1, l2Reg: 0.25 });
    const row = new Float32Array(2); // [w | acc]
    row[0] = 1;
    opt.initState(row, 0, row, 1, 1);
    opt.apply(row, 0, row, 1, Float32Array.of(0.5), 0, 1);
    const g = 0.5 + 0.25 * 1;
    expect(row[1]).to.equal(f(0.1 + g * g));
    expect(row[0]).to.equal(f(1 - (0.1 * g) / (Math.sqrt(f(0.1 + g * g)) + 1e-10)));
  });

  it('is added before clip_norm: the penalised gradient is what gets clipped', () => {
    const opt = createOptimizer({ kind: 'sgd', lr: 1, clipNorm: 1, l2Reg: 1 });
    const w = Float32Array.of(3, 4);
    opt.apply(w, 0, w, 2, Float32Array.of(0, 0), 0, 2); // g + w = (3, 4), norm 5 → (0.6, 0.8)
    expect(Array.from(w)).to.deep.equal([f(3 - 0.6), f(4 - 0.8)]);
  });

  it('is lazy: a push decays only the rows it touches', () => {
    const t = new EmbeddingTable({ name: 't', dim: 2, optimizer: { kind: 'sgd', lr: 0.5, l2Reg: 1 }, seed: 3, initializer: { kind: 'constant', value: 1 } });
    const both = idsFrom([1n, 2n]);
    t.pull(both, new Float32Array(4));
    t.push(idsFrom([1n]), new Float32Array(2)); // zero gradient: only the penalty moves row 1
    const out = new Float32Array(4);
    t.pull(both, out);
    expect(Array.from(out)).to.deep.equal([0.5, 0.5, 1, 1]);
  });

  it('is absent unless set; 0 is kept as given; negative is refused naming the key', () => {
    expect(createOptimizer({ kind: 'adam', lr: 0.1 }).config).to.not.have.property('l2Reg');
    expect(createOptimizer({ kind: 'adam', lr: 0.1, l2Reg: 0 }).config).to.include({ l2Reg: 0 });
    expect(() => createOptimizer({ kind: 'ftrl', alpha: 0.1, l2Reg: -1 })).to.throw('optimizer.l2Reg must be >= 0 (got -1)');
  });

  it('crosses the wire value and the manifest record as l2_reg', () => {
    const cfg = createOptimizer({ kind: 'adagrad', lr: 0.1, clipNorm: 5, l2Reg: 1e-4 }).config;
    expect(optimizerToSpec(cfg).params).to.include({ clip_norm: 5, l2_reg: 1e-4 });
    expect(createOptimizer(optimizerFromSpec(optimizerToSpec(cfg))).config).to.deep.equal(cfg);
    const spec = { name: 'e', kind: 'embedding' as const, dim: 4, optimizer: { kind: 'sgd' as const, lr: 0.1, l2Reg: 0.001 } };
    const layout = tableLayoutOf(spec);
    expect(layout.optimizer.params).to.deep.equal({ lr: 0.1, l2_reg: 0.001 });
    expect(normalizeTableSpec(tableSpecOfLayout(layout))).to.deep.equal(normalizeTableSpec(spec));
  });
});
