/**
 * Categorical tokens: the string written for rank r of categorical field f.
 *
 * The token is a keyed permutation of r − 1, written in lower-case hex:
 * - vocab ≤ 2^32: a 32-bit permutation, 8 hex digits (the Criteo DAC look, e.g. `68fd1e64`);
 * - vocab > 2^32 (up to 2^40): a 40-bit permutation, 10 hex digits.
 *
 * The permutation is a 4-round Feistel network over two halves (16+16 or 20+20 bits) whose round
 * keys are salted by the field index only, so rank r of field C3 always gets the same token
 * (whatever the seed), different fields get unrelated tokens, and, being a bijection, two ranks of
 * one field never share a token. Tessera's Criteo reader treats categoricals as opaque strings, so
 * the 10-digit form reads the same way; it just is not byte-compatible with tools that insist on 8.
 */
import { fmix32 } from './rng';

/** Feistel rounds: 4 make every output bit depend on every input bit. */
const ROUNDS = 4;
/** Lower-case hex digits as ASCII codes. */
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Bit width of the token space for a vocabulary: 32 up to 2^32 ids, otherwise 40. */
export function tokenBits(vocab: number): 32 | 40 {
  return vocab <= 2 ** 32 ? 32 : 40;
}

/**
 * Writes categorical tokens of one field straight into an output buffer (no string per token).
 *
 * ```ts
 * const c1 = new TokenCodec(0, 1e6);
 * c1.token(1);                       // '…' 8 hex digits, stable forever for (C1, rank 1)
 * pos = c1.write(buf, pos, rank);    // same bytes, written in place
 * ```
 */
export class TokenCodec {
  /** Hex digits per token: 8 or 10. */
  readonly digits: number;
  private readonly halfBits: number;
  private readonly halfDigits: number;
  private readonly mask: number;
  private readonly base: number;
  private readonly keys = new Int32Array(ROUNDS);

  /**
   * @param field 0-based categorical field index (0 = C1).
   * @param vocab the field's vocabulary size, which picks the token width.
   */
  constructor(field: number, vocab: number) {
    const bits = tokenBits(vocab);
    this.digits = bits / 4;
    this.halfBits = bits / 2;
    this.halfDigits = this.digits / 2;
    this.base = 2 ** this.halfBits;
    this.mask = this.base - 1;
    for (let i = 0; i < ROUNDS; i++) this.keys[i] = fmix32(Math.imul(field + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca77));
  }

  /** The permuted id of `rank` (1-based) as [left, right] halves. */
  private permute(rank: number, out: Uint32Array): void {
    const x = rank - 1;
    let l = Math.floor(x / this.base);
    let r = x - l * this.base;
    for (let i = 0; i < ROUNDS; i++) {
      const f = fmix32(r ^ this.keys[i]) & this.mask;
      const t = l ^ f;
      l = r;
      r = t;
    }
    out[0] = l;
    out[1] = r;
  }

  private readonly halves = new Uint32Array(2);

  /** Writes the token of `rank` at `buf[pos]`; returns the position after it. */
  write(buf: Buffer, pos: number, rank: number): number {
    this.permute(rank, this.halves);
    const hd = this.halfDigits;
    for (let h = 0; h < 2; h++) {
      let v = this.halves[h];
      for (let i = hd - 1; i >= 0; i--) {
        buf[pos + i] = HEX[v & 15];
        v >>>= 4;
      }
      pos += hd;
    }
    return pos;
  }

  /** The token of `rank` as a string (tests, debugging). */
  token(rank: number): string {
    const buf = Buffer.allocUnsafe(this.digits);
    this.write(buf, 0, rank);
    return buf.toString('latin1');
  }
}
