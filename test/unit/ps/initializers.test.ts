import { expect } from 'chai';
import { InitializerConfig, initRow, validateInitializer } from '../../../src/ps/store/initializers';

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

function row(cfg: InitializerConfig, seed: number, lo: number, hi: number, dim = 8): Float32Array {
  const out = new Float32Array(dim);
  initRow(cfg, seed, lo, hi, out, 0, dim);
  return out;
}

/** Mean and std of element 0..dim-1 over `n` consecutive ids. */
function moments(cfg: InitializerConfig, n: number, dim = 4): { mean: number; std: number; maxAbs: number } {
  const out = new Float32Array(dim);
  let s = 0;
  let s2 = 0;
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    initRow(cfg, 7, i, i >>> 3, out, 0, dim);
    for (let j = 0; j < dim; j++) {
      s += out[j];
      s2 += out[j] * out[j];
      maxAbs = Math.max(maxAbs, Math.abs(out[j]));
    }
  }
  const mean = s / (n * dim);
  return { mean, std: Math.sqrt(s2 / (n * dim) - mean * mean), maxAbs };
}

describe('initializers', () => {
  const uniform: InitializerConfig = { kind: 'uniform', scale: 0.5 };
  const normal: InitializerConfig = { kind: 'normal', std: 1 };

  it('is deterministic in (seed, id): bit-identical on every call and offset', () => {
    for (const cfg of [uniform, normal]) {
      const a = row(cfg, 3, 0xdeadbeef, 0x12345678);
      const big = new Float32Array(20);
      initRow(cfg, 3, 0xdeadbeef, 0x12345678, big, 11, 8);
      expect(bits(big.subarray(11, 19))).to.deep.equal(bits(a));
      expect(bits(row(cfg, 3, 0xdeadbeef, 0x12345678))).to.deep.equal(bits(a));
    }
  });

  it('differs across ids, across id halves and across seeds', () => {
    const base = bits(row(uniform, 1, 5, 0));
    expect(bits(row(uniform, 1, 6, 0))).to.not.deep.equal(base);
    expect(bits(row(uniform, 1, 5, 1))).to.not.deep.equal(base);
    expect(bits(row(uniform, 2, 5, 0))).to.not.deep.equal(base);
    // swapping halves is a different id and must give a different row
    expect(bits(row(uniform, 1, 0, 5))).to.not.deep.equal(base);
    const r = row(uniform, 1, 5, 0);
    expect(new Set(Array.from(r)).size).to.equal(r.length); // elements within a row differ too
  });

  it('uniform: mean ~0, std ~scale/sqrt(3), within [-scale, scale]', () => {
    const m = moments(uniform, 50_000);
    expect(m.mean).to.be.closeTo(0, 0.005);
    expect(m.std).to.be.closeTo(0.5 / Math.sqrt(3), 0.005);
    expect(m.maxAbs).to.be.at.most(0.5);
  });

  it('normal: truncated at 2 std, mean ~0, std ~0.88*std', () => {
    const m = moments(normal, 50_000);
    expect(m.mean).to.be.closeTo(0, 0.01);
    expect(m.std).to.be.closeTo(0.8796, 0.01); // std of N(0,1) truncated to [-2, 2]
    expect(m.maxAbs).to.be.at.most(2);
  });

  it('zeros and constant', () => {
    expect(Array.from(row({ kind: 'zeros' }, 1, 2, 3, 3))).to.deep.equal([0, 0, 0]);
    expect(Array.from(row({ kind: 'constant', value: 0.25 }, 1, 2, 3, 3))).to.deep.equal([0.25, 0.25, 0.25]);
  });

  it('validates configs, naming the key', () => {
    expect(() => validateInitializer({ kind: 'normal', std: -1 })).to.throw('initializer.std must be >= 0');
    expect(() => validateInitializer({ kind: 'uniform' })).to.throw('initializer.scale');
    expect(() => validateInitializer({ kind: 'constant', value: NaN })).to.throw('initializer.value');
    expect(() => validateInitializer({ kind: 'glorot' })).to.throw('initializer.kind');
    expect(() => validateInitializer({ kind: 'zeros', std: 1 })).to.throw('initializer.std is not a known key');
  });
});
