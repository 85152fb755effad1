import { expect } from 'chai';
import { TokenCodec, tokenBits } from '../../../src/gen/tokens';

describe('gen/tokens', () => {
  it('uses 8 hex digits up to 2^32 ids and 10 beyond', () => {
    expect(tokenBits(1e6)).to.equal(32);
    expect(tokenBits(2 ** 32)).to.equal(32);
    expect(tokenBits(2 ** 32 + 1)).to.equal(40);
    expect(new TokenCodec(0, 1e6).token(1)).to.match(/^[0-9a-f]{8}$/);
    expect(new TokenCodec(0, 2 ** 40).token(2 ** 40)).to.match(/^[0-9a-f]{10}$/);
  });

  it('never gives two ranks of a field the same token (the Feistel map is a bijection)', () => {
    for (const vocab of [1e6, 2 ** 40]) {
      const codec = new TokenCodec(3, vocab);
      const seen = new Set<string>();
      const ranks = [...Array.from({ length: 100_000 }, (_, i) => i + 1), vocab, vocab - 1, 2 ** 20, 2 ** 20 + 1];
      for (const r of ranks) seen.add(codec.token(r));
      expect(seen.size, `vocab ${vocab}`).to.equal(new Set(ranks).size);
    }
  });

  it('salts by field, and is stable for a (field, rank)', () => {
    expect(new TokenCodec(0, 1e6).token(1)).to.not.equal(new TokenCodec(1, 1e6).token(1));
    expect(new TokenCodec(5, 1e6).token(42)).to.equal(new TokenCodec(5, 1e6).token(42));
  });
});
