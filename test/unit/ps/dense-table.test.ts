import { expect } from 'chai';
import { AdamOptimizer } from '../../../src/ps/optimizers/adam';
import { DenseTable } from '../../../src/ps/store/dense-table';
import { initRow } from '../../../src/ps/store/initializers';

describe('DenseTable', () => {
  it('initialises as the row of id 0 and pulls a copy', () => {
    const t = new DenseTable({ name: 'mlp', size: 10, optimizer: { kind: 'sgd', lr: 0.5 }, seed: 3 });
    const expected = new Float32Array(10);
    initRow({ kind: 'uniform', scale: 0.01 }, 3, 0, 0, expected, 0, 10);
    const w = t.pull();
    expect(Array.from(w)).to.deep.equal(Array.from(expected));
    w[0] = 42;
    expect(t.values[0]).to.not.equal(42); // a copy
    const out = new Float32Array(10);
    expect(t.pull(out)).to.equal(out);
  });

  it('applies the optimizer over the whole vector (SGD: w -= lr*g)', () => {
    const t = new DenseTable({ name: 'mlp', size: 3, optimizer: { kind: 'sgd', lr: 0.5 }, initializer: { kind: 'zeros' } });
    t.push(Float32Array.of(1, -2, 0.5));
    expect(Array.from(t.pull())).to.deep.equal([-0.5, 1, -0.25]);
  });

  it('Adam keeps one step count for the table', () => {
    const t = new DenseTable({ name: 'mlp', size: 5, optimizer: { kind: 'adam', lr: 0.01 } });
    for (let i = 0; i < 4; i++) t.push(new Float32Array(5).fill(0.1));
    expect(t.state.length).to.equal(2 * 5 + 2);
    expect(AdamOptimizer.readStep(t.state, 0, 5)).to.equal(4);
  });

  it('rejects a wrong length or non-finite gradient and stays unchanged', () => {
    const t = new DenseTable({ name: 'mlp', size: 4, optimizer: { kind: 'adagrad', lr: 0.1 } });
    const before = [Array.from(t.values), Array.from(t.state)];
    expect(() => t.push(new Float32Array(3))).to.throw(/grads: length 3 does not equal 4/)
      .with.property('code', 'TESSERA_ERR_BAD_GRADIENT');
    expect(() => t.push(Float32Array.of(0, 0, 0, -Infinity))).to.throw(/grads\[3\] is -Infinity/)
      .with.property('code', 'TESSERA_ERR_NON_FINITE');
    expect([Array.from(t.values), Array.from(t.state)]).to.deep.equal(before);
  });

  it('restore overwrites weights and state', () => {
    const t = new DenseTable({ name: 'mlp', size: 2, optimizer: { kind: 'adagrad', lr: 0.1 } });
    t.restore(Float32Array.of(1, 2), Float32Array.of(3, 4));
    expect([Array.from(t.values), Array.from(t.state)]).to.deep.equal([[1, 2], [3, 4]]);
    expect(() => t.restore(Float32Array.of(1), Float32Array.of(3, 4))).to.throw('values');
  });

  it('validates options', () => {
    expect(() => new DenseTable({ name: 'mlp', size: 0, optimizer: { kind: 'sgd', lr: 1 } })).to.throw('size must be >= 1');
    expect(() => new DenseTable({ name: '', size: 1, optimizer: { kind: 'sgd', lr: 1 } })).to.throw('name must be');
  });
});
