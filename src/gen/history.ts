/**
 * A planted sequence teacher for `tessera gen --history N` (issue 21): each row gets a user's
 * click history, and whether the candidate item completes something in it (a phone case after a
 * phone) moves the label.
 *
 * ```text
 * items      the ranks of C1 (the candidate item column); item r is in category (r − 1) mod K
 * history    length uniform in [1, N]; each element an item of a uniform category, drawn by
 *            C1's Zipf law restricted to that category
 * candidate  C1 := an item of a uniform category c
 * logit     += HISTORY_WEIGHT · (+1 if some history item is of category c − 1 (mod K), else −1)
 * ```
 * The history is written into C26, the last column, as C1 tokens joined by HISTORY_SEPARATOR
 * (so a spec hashes its elements as C1 values, `hash_as: C1`, and they share C1's embedding
 * rows); C26's own value is not drawn into the label then. Relating a candidate to each history
 * item is what target attention (DIN) models; a pooled history blurs it, and the dot products of
 * shared embeddings (FM) score similarity, not "comes after".
 */
import { Xoshiro128 } from './rng';
import type { FeatureRow } from './rows';
import type { TokenCodec } from './tokens';
import { ZipfSampler } from './zipf';

/** The candidate item column (C1), whose tokens the history holds. */
export const ITEM_FIELD = 0;
/** The column (C26) the history is written into. */
export const HISTORY_FIELD = 25;
/** What separates history elements in the cell. */
export const HISTORY_SEPARATOR = '|';
/** Item categories K. */
export const HISTORY_CATEGORIES = 12;
/** Logit change of a (mis)match between the candidate and the history. */
export const HISTORY_WEIGHT = 2;
/** Longest history `--history` accepts. */
export const MAX_HISTORY = 64;
/** Bytes one element can take: a token of at most 10 hex digits and a separator. */
export const HISTORY_ELEMENT_BYTES = 11;

const SEPARATOR_BYTE = HISTORY_SEPARATOR.charCodeAt(0);

/** One row's history draw. */
export interface HistoryDraw {
  /** Item ranks of the history, oldest first; `length` of them are valid. */
  ranks: Float64Array;
  length: number;
  /** Whether some history item is of the category just before the candidate's. */
  match: boolean;
}

/** Draws histories and candidates; see the file comment. */
export class HistorySampler {
  private readonly zipf: ZipfSampler;

  /** @param maxLength N, in [1, MAX_HISTORY]; @param itemVocab C1's vocabulary (>= HISTORY_CATEGORIES) */
  constructor(readonly maxLength: number, itemVocab: number, zipf: number) {
    this.zipf = new ZipfSampler(itemVocab, zipf);
  }

  /** A draw with room for the longest history. */
  newDraw(): HistoryDraw {
    return { ranks: new Float64Array(this.maxLength), length: 0, match: false };
  }

  /** Category of item `rank`. */
  static category(rank: number): number {
    return (rank - 1) % HISTORY_CATEGORIES;
  }

  /** Overwrites `row`'s candidate (C1) and clears C26, and draws the history into `out`. */
  next(row: FeatureRow, rng: Xoshiro128, out: HistoryDraw): void {
    out.length = 1 + Math.floor(rng.nextFloat() * this.maxLength);
    for (let k = 0; k < out.length; k++) out.ranks[k] = this.itemOf(Math.floor(rng.nextFloat() * HISTORY_CATEGORIES), rng);
    const before = Math.floor(rng.nextFloat() * HISTORY_CATEGORIES); // the category before the candidate's
    row.ranks[ITEM_FIELD] = this.itemOf((before + 1) % HISTORY_CATEGORIES, rng);
    row.ranks[HISTORY_FIELD] = 0;
    out.match = false;
    for (let k = 0; k < out.length; k++) if (HistorySampler.category(out.ranks[k]) === before) out.match = true;
  }

  /** An item of category `c` by C1's Zipf law restricted to it (rejection; about K draws). */
  private itemOf(c: number, rng: Xoshiro128): number {
    for (;;) {
      const r = this.zipf.sample(rng);
      if (HistorySampler.category(r) === c) return r;
    }
  }
}

/** The history's logit term. */
export function historyLogit(draw: HistoryDraw): number {
  return draw.match ? HISTORY_WEIGHT : -HISTORY_WEIGHT;
}

/**
 * Writes the history cell at `buf[pos]` (the caller leaves room for
 * maxLength · HISTORY_ELEMENT_BYTES bytes): the tokens of `codec` joined by the separator.
 */
export function writeHistory(buf: Buffer, pos: number, draw: HistoryDraw, codec: TokenCodec): number {
  for (let k = 0; k < draw.length; k++) {
    if (k > 0) buf[pos++] = SEPARATOR_BYTE;
    pos = codec.write(buf, pos, draw.ranks[k]);
  }
  return pos;
}
