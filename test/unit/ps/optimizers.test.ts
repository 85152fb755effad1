/**
 * Each optimizer against numbers computed by hand (a float64 calculator), 2-3 steps each.
 * Shared inputs: w0 = [0.5, -0.25], g1 = [0.2, -0.4], g2 = [1.0, 0.5], g3 = [-0.3, 0].
 * The implementation stores float32, so comparisons use closeTo(…, 1e-6).
 */
import { expect } from 'chai';
import { createOptimizer } from '../../../src/ps/optimizers/registry';
import { Optimizer } from '../../../src/ps/optimizers/optimizer';

const G = [[0.2, -0.4], [1.0, 0.5], [-0.3, 0]];
const TOL = 1e-6;

/** One row laid out as the store does: [weights | state] in one array. */
function makeRow(opt: Optimizer, w0: number[]): Float32Array {
  const dim = w0.length;
  const row = new Float32Array(dim + opt.stateWidth(dim));
  row.set(w0);
  opt.initState(row, 0, row, dim, dim);
  return row;
}

function step(opt: Optimizer, row: Float32Array, g: number[]): void {
  const dim = g.length;
  opt.apply(row, 0, row, dim, Float32Array.from(g), 0, dim);
}

function expectClose(actual: ArrayLike<number>, expected: number[]): void {
  expect(actual.length).to.equal(expected.length);
  expected.forEach((e, i) => expect(actual[i], `element ${i}`).to.be.closeTo(e, TOL));
}

describe('optimizers', () => {
  describe('sgd', () => {
    it('w -= lr*g (lr 0.1)', () => {
      const opt = createOptimizer({ kind: 'sgd', lr: 0.1 });
      expect(opt.stateWidth(2)).to.equal(0);
      const row = makeRow(opt, [0.5, -0.25]);
      // step 1: 0.5 - 0.1*0.2 = 0.48 ; -0.25 - 0.1*(-0.4) = -0.21
      step(opt, row, G[0]);
      expectClose(row, [0.48, -0.21]);
      // step 2: 0.48 - 0.1*1.0 = 0.38 ; -0.21 - 0.1*0.5 = -0.26
      step(opt, row, G[1]);
      expectClose(row, [0.38, -0.26]);
    });
  });

  describe('adagrad', () => {
    it('acc += g^2; w -= lr*g/(sqrt(acc)+eps) (lr 0.1, acc0 0.1, eps 1e-10)', () => {
      const opt = createOptimizer({ kind: 'adagrad', lr: 0.1 });
      expect(opt.config).to.deep.equal({ kind: 'adagrad', lr: 0.1, initialAccumulator: 0.1, eps: 1e-10 });
      const row = makeRow(opt, [0.5, -0.25]);
      expectClose(row, [0.5, -0.25, 0.1, 0.1]);
      // step 1: acc = [0.1+0.04, 0.1+0.16] = [0.14, 0.26]
      //   w0 = 0.5 - 0.1*0.2/sqrt(0.14)        = 0.5 - 0.02/0.374165738677 = 0.446547751632
      //   w1 = -0.25 - 0.1*(-0.4)/sqrt(0.26)   = -0.25 + 0.04/0.509901951359 = -0.171553545960
      step(opt, row, G[0]);
      expectClose(row, [0.446547751632, -0.171553545960, 0.14, 0.26]);
      // step 2: acc = [0.14+1, 0.26+0.25] = [1.14, 0.51]
      //   w0 = 0.446547751632 - 0.1/sqrt(1.14)      = 0.446547751632 - 0.093658581149 = 0.352889170482
      //   w1 = -0.171553545960 - 0.05/sqrt(0.51)    = -0.171553545960 - 0.070014004192 = -0.241567550152
      step(opt, row, G[1]);
      expectClose(row, [0.352889170482, -0.241567550152, 1.14, 0.51]);
      // step 3: acc = [1.14+0.09, 0.51+0] = [1.23, 0.51]
      //   w0 = 0.352889170482 + 0.03/sqrt(1.23) = 0.352889170482 + 0.027050089038 = 0.379939259520
      //   w1 unchanged (g = 0)
      step(opt, row, G[2]);
      expectClose(row, [0.379939259520, -0.241567550152, 1.23, 0.51]);
    });
  });

  describe('registry', () => {
    const cases: Array<[string, unknown, string]> = [
      ['missing lr', { kind: 'sgd' }, 'optimizer.lr'],
      ['lr 0', { kind: 'sgd', lr: 0 }, 'optimizer.lr must be > 0'],
      ['lr NaN', { kind: 'adagrad', lr: NaN }, 'optimizer.lr'],
      ['lr Infinity', { kind: 'adam', lr: Infinity }, 'optimizer.lr'],
      ['negative accumulator', { kind: 'adagrad', lr: 1, initialAccumulator: -1 }, 'optimizer.initialAccumulator'],
      ['zero acc and eps', { kind: 'adagrad', lr: 1, initialAccumulator: 0, eps: 0 }, 'optimizer.eps'],
      ['beta1 = 1', { kind: 'adam', lr: 1, beta1: 1 }, 'optimizer.beta1 must be < 1'],
      ['beta2 < 0', { kind: 'adam', lr: 1, beta2: -0.1 }, 'optimizer.beta2'],
      ['adam eps 0', { kind: 'adam', lr: 1, eps: 0 }, 'optimizer.eps must be > 0'],
      ['ftrl alpha 0', { kind: 'ftrl', alpha: 0 }, 'optimizer.alpha must be > 0'],
      ['ftrl l1 < 0', { kind: 'ftrl', alpha: 1, l1: -1 }, 'optimizer.l1'],
      ['ftrl l2 string', { kind: 'ftrl', alpha: 1, l2: '0.1' }, 'optimizer.l2'],
      ['unknown kind', { kind: 'rmsprop', lr: 1 }, 'optimizer.kind'],
      ['unknown key', { kind: 'adam', lr: 1, beta_1: 0.8 }, 'optimizer.beta_1'],
      ['not an object', null, 'optimizer must be an object'],
    ];
    for (const [what, cfg, key] of cases) {
      it(`rejects ${what}, naming ${key.split(' ')[0]}`, () => {
        expect(() => createOptimizer(cfg as never))
          .to.throw(key)
          .with.property('code', 'TESSERA_ERR_INVALID_ARGUMENT');
      });
    }

    it('fills defaults', () => {
      expect(createOptimizer({ kind: 'adam', lr: 0.001 }).config)
        .to.deep.equal({ kind: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      expect(createOptimizer({ kind: 'ftrl', alpha: 0.1 }).config)
        .to.deep.equal({ kind: 'ftrl', alpha: 0.1, beta: 0, l1: 0, l2: 0, initialAccumulator: 0.1 });
    });

    it('ignores keys explicitly set to undefined (as wire adapters produce)', () => {
      expect(createOptimizer({ kind: 'adagrad', lr: 0.1, eps: undefined }).config)
        .to.deep.equal({ kind: 'adagrad', lr: 0.1, initialAccumulator: 0.1, eps: 1e-10 });
    });
  });
});
