/**
 * Lazy Adam and FTRL-Proximal against numbers computed by hand (float64 calculator).
 * Inputs as in optimizers.test.ts: w0 = [0.5, -0.25], g1 = [0.2, -0.4], g2 = [1.0, 0.5], g3 = [-0.3, 0].
 */
import { expect } from 'chai';
import { AdamOptimizer } from '../../../src/ps/optimizers/adam';
import { createOptimizer } from '../../../src/ps/optimizers/registry';
import { Optimizer } from '../../../src/ps/optimizers/optimizer';

const G = [[0.2, -0.4], [1.0, 0.5], [-0.3, 0]];
const TOL = 1e-6;

function makeRow(opt: Optimizer, w0: number[]): Float32Array {
  const row = new Float32Array(w0.length + opt.stateWidth(w0.length));
  row.set(w0);
  opt.initState(row, 0, row, w0.length, w0.length);
  return row;
}

function step(opt: Optimizer, row: Float32Array, g: number[], rowOff = 0): void {
  const dim = g.length;
  opt.apply(row, rowOff, row, rowOff + dim, Float32Array.from(g), 0, dim);
}

function expectClose(actual: ArrayLike<number>, expected: number[], from = 0): void {
  expected.forEach((e, i) => expect(actual[from + i], `element ${from + i}`).to.be.closeTo(e, TOL));
}

describe('adam (lazy)', () => {
  const cfg = { kind: 'adam' as const, lr: 0.01 };

  it('matches hand-computed steps (lr 0.01, b1 0.9, b2 0.999, eps 1e-8)', () => {
    const opt = createOptimizer(cfg);
    expect(opt.stateWidth(2)).to.equal(6); // m, m, v, v, tLow, tHigh
    const row = makeRow(opt, [0.5, -0.25]);
    // step 1: m = 0.1*g = [0.02, -0.04]; v = 0.001*g^2 = [4e-5, 1.6e-4]
    //   lr_1 = 0.01*sqrt(1-0.999)/(1-0.9) = 0.01*0.0316227766/0.1 = 0.00316227766017
    //   w0 = 0.5 - 0.00316227766*0.02/(0.00632455532+1e-8) = 0.5 - 0.00999998419 = 0.490000015811
    //   w1 = -0.25 + 0.00316227766*0.04/(0.01264911064+1e-8) = -0.240000007906
    step(opt, row, G[0]);
    expectClose(row, [0.490000015811, -0.240000007906, 0.02, -0.04, 4e-5, 1.6e-4, 1, 0]);
    // step 2: m = [0.9*0.02+0.1, 0.9*(-0.04)+0.05] = [0.118, 0.014]
    //   v = [0.999*4e-5+0.001, 0.999*1.6e-4+0.00025] = [0.00103996, 0.00040984]
    //   lr_2 = 0.01*sqrt(1-0.998001)/(1-0.81) = 0.00235316725327
    //   w0 = 0.490000015811 - 0.00235316725*0.118/(0.0322484108+1e-8) = 0.490000015811 - 0.00861045995 = 0.481389555861
    //   w1 = -0.240000007906 - 0.00235316725*0.014/(0.0202444...+1e-8) = -0.240000007906 - 0.00162732181 = -0.241627329719
    step(opt, row, G[1]);
    expectClose(row, [0.481389555861, -0.241627329719, 0.118, 0.014, 0.00103996, 0.00040984, 2, 0]);
    // step 3: m = [0.1062-0.03, 0.0126] = [0.0762, 0.0126]; v = [0.00112892004, 0.00040943016]
    //   lr_3 = 0.01*sqrt(1-0.997002999)/(1-0.729) = 0.00202010597439
    //   w0 = 0.481389555861 - 0.00458139148 = 0.476808164380
    //   w1 = -0.241627329719 - 0.00125792448 = -0.242885254196 (m != 0 although g = 0)
    step(opt, row, G[2]);
    expectClose(row, [0.476808164380, -0.242885254196, 0.0762, 0.0126, 0.00112892004, 0.00040943016, 3, 0]);
  });

  it('is lazy: a row not pushed keeps its step count and moments', () => {
    const opt = createOptimizer(cfg);
    const width = 2 + opt.stateWidth(2);
    const rows = new Float32Array(2 * width); // row A at 0, row B at `width`
    rows.set([0.5, -0.25], 0);
    rows.set([0.5, -0.25], width);
    opt.initState(rows, 0, rows, 2, 2);
    opt.initState(rows, width, rows, width + 2, 2);
    step(opt, rows, G[0], width); // B: one step
    const bAfterOne = rows.slice(width, 2 * width);
    for (const g of G) step(opt, rows, g, 0); // A: three steps
    expect(Array.from(rows.subarray(width))).to.deep.equal(Array.from(bAfterOne));
    expect(AdamOptimizer.readStep(rows, 2, 2)).to.equal(3);
    expect(AdamOptimizer.readStep(rows, width + 2, 2)).to.equal(1);
    // B's second step uses t = 2 (lr_2), so it matches step 2 of the hand-computed sequence.
    step(opt, rows, G[1], width);
    expectClose(rows, [0.481389555861, -0.241627329719, 0.118, 0.014, 0.00103996, 0.00040984, 2, 0], width);
  });

  it('keeps the step count exact past 2^24', () => {
    const opt = createOptimizer(cfg);
    const row = makeRow(opt, [0, 0]);
    AdamOptimizer.writeStep(row, 2, 2, 2 ** 24 - 1);
    step(opt, row, [0.1, 0.1]);
    step(opt, row, [0.1, 0.1]);
    expect(AdamOptimizer.readStep(row, 2, 2)).to.equal(2 ** 24 + 1);
  });
});

describe('ftrl', () => {
  it('matches hand-computed steps (alpha 0.1, beta 1, l1 0.05, l2 0.01, n0 0.1)', () => {
    const opt = createOptimizer({ kind: 'ftrl', alpha: 0.1, beta: 1, l1: 0.05, l2: 0.01 });
    expect(opt.stateWidth(2)).to.equal(4); // z, z, n, n
    const row = makeRow(opt, [0.5, -0.25]);
    // step 1: n' = [0.14, 0.26]
    //   sigma0 = (sqrt(0.14)-sqrt(0.1))/0.1 = (0.374165738677-0.316227766017)/0.1 = 0.579379726606
    //   sigma1 = (sqrt(0.26)-sqrt(0.1))/0.1 = 1.936741853424
    //   z0 = 0.2 - 0.579379726606*0.5 = -0.089689863303 ; z1 = -0.4 + 1.936741853424*0.25 = 0.084185463356
    //   |z| > l1, so w0 = -(z0+0.05)/((1+0.374165738677)/0.1+0.01) = 0.039689863303/13.751657386774 = 0.002886187620
    //   w1 = -(z1-0.05)/((1+0.509901951359)/0.1+0.01) = -0.034185463356/15.109019513593 = -0.002262586485
    step(opt, row, G[0]);
    expectClose(row, [0.002886187620, -0.002262586485, -0.089689863303, 0.084185463356, 0.14, 0.26]);
    // step 2: n' = [1.14, 0.51]; sigma0 = (1.067707825203-0.374165738677)/0.1 = 6.935420865264
    //   z0 = -0.089689863303 + 1 - 6.935420865264*0.002886187620 = 0.890293210857
    //   w0 = -(0.890293210857-0.05)/((1+1.067707825203)/0.1+0.01) = -0.040619231030
    //   sigma1 = (0.714142842854-0.509901951359)/0.1 = 2.042408914950
    //   z1 = 0.084185463356 + 0.5 + 2.042408914950*0.002262586485 = 0.588806590164
    //   w1 = -(0.588806590164-0.05)/((1+0.714142842854)/0.1+0.01) = -0.031414677349
    step(opt, row, G[1]);
    expectClose(row, [-0.040619231030, -0.031414677349, 0.890293210857, 0.588806590164, 1.14, 0.51]);
    // step 3: g1 = 0, so sigma1 = 0, z1 and w1 are unchanged (w recomputed from the same z, n)
    //   n0' = 1.23; sigma0 = (1.109053650641-1.067707825203)/0.1 = 0.413458254384
    //   z0 = 0.890293210857 - 0.3 + 0.413458254384*0.040619231030 = 0.607087567213
    //   w0 = -(0.607087567213-0.05)/((1+1.109053650641)/0.1+0.01) = -0.026401583061
    step(opt, row, G[2]);
    expectClose(row, [-0.026401583061, -0.031414677349, 0.607087567213, 0.588806590164, 1.23, 0.51]);
  });

  it('l1 makes weights exactly 0 while |z| <= l1', () => {
    const opt = createOptimizer({ kind: 'ftrl', alpha: 0.1, beta: 1, l1: 0.5, l2: 0.01 });
    const row = makeRow(opt, [0.5, -0.25]);
    // step 1: z = [-0.089689863303, 0.084185463356] as above; both |z| <= 0.5 -> w = [0, 0] exactly
    step(opt, row, G[0]);
    expect(row[0]).to.equal(0);
    expect(row[1]).to.equal(0);
    // step 2: w = 0 so sigma*w = 0: z = [-0.089689863303+1, 0.084185463356+0.5] = [0.910310136697, 0.584185463356]
    //   w0 = -(0.910310136697-0.5)/((1+1.067707825203)/0.1+0.01) = -0.019834126970
    //   w1 = -(0.584185463356-0.5)/((1+0.714142842854)/0.1+0.01) = -0.004908364554
    step(opt, row, G[1]);
    expectClose(row, [-0.019834126970, -0.004908364554, 0.910310136697, 0.584185463356]);
    // a small opposite gradient pulls z0 back inside [-l1, l1]: exactly 0 again
    step(opt, row, [-0.5, 0]);
    expect(Math.abs(row[2])).to.be.at.most(0.5);
    expect(row[0]).to.equal(0);
  });
});
