import { expect } from 'chai';
import { decodeF16, encodeF16, toHalfBits } from '../../../src/wire/f16';

describe('fp16 wire encoding', () => {
  it('encodes known values to their IEEE half bit patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
      [65520, 0x7c00] /* rounds up to Inf */, [Infinity, 0x7c00], [2 ** -24, 0x0001], [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00] /* tie → even */, [1 + 3 * 2 ** -11, 0x3c02] /* tie → even (up) */, [0.1, 0x2e66],
    ];
    for (const [v, bits] of cases) expect(toHalfBits(v), `value ${v}`).to.equal(bits);
    expect(toHalfBits(NaN) & 0x7c00).to.equal(0x7c00);
  });

  it('round-trips every finite half exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = new Float32Array(65536);
    decodeF16(all, f);
    const back = new Uint16Array(65536);
    encodeF16(f, back);
    for (let h = 0; h < 65536; h++) {
      if (((h >>> 10) & 0x1f) === 0x1f && (h & 0x3ff) !== 0) continue; // NaN payloads may differ
      expect(back[h], `half 0x${h.toString(16)}`).to.equal(h);
    }
  });

  it('keeps relative error below 2^-11 for normal values', () => {
    const src = new Float32Array(1000).map((_, i) => Math.sin(i) * 100 + 0.001);
    const half = new Uint16Array(src.length);
    const back = new Float32Array(src.length);
    encodeF16(src, half);
    decodeF16(half, back);
    for (let i = 0; i < src.length; i++) expect(Math.abs(back[i] - src[i])).to.be.at.most(Math.abs(src[i]) * 2 ** -11 + 1e-7);
  });
});
