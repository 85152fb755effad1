/**
 * Issue 21: `tessera gen --history N`, the planted user-history teacher: the file format (C26
 * holds up to N "|"-separated C1 tokens, C1 the candidate), determinism, option checks, and a
 * label that depends on the candidate against the history as history.ts defines it.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCriteoLine } from '../../../src/data/parsers';
import { generate } from '../../../src/gen/generate';
import { HISTORY_CATEGORIES, HISTORY_SEPARATOR } from '../../../src/gen/history';
import { TokenCodec } from '../../../src/gen/tokens';

const VOCAB = [12, ...new Array<number>(25).fill(1000)];

describe('gen: --history (issue 21)', function () {
  this.timeout(60_000);
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'tessera-gen-history-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes C1 as the candidate and C26 as its history of C1 tokens; same options, same bytes', async () => {
    const a = await generate({ rows: 4000, seed: 3, out: join(dir, 'a.tsv'), vocab: VOCAB, history: 8 });
    await generate({ rows: 4000, seed: 3, out: join(dir, 'b.tsv'), vocab: VOCAB, history: 8 });
    const text = readFileSync(join(dir, 'a.tsv'), 'latin1');
    expect(readFileSync(join(dir, 'b.tsv'), 'latin1')).to.equal(text);
    const c1 = new TokenCodec(0, 12);
    const category = new Map(Array.from({ length: 12 }, (_, r) => [c1.token(r + 1), r % HISTORY_CATEGORIES]));
    const rows = text.trimEnd().split('\n').map((l) => parseCriteoLine(l));
    const byMatch = [[0, 0], [0, 0]]; // [match][label] counts
    for (const r of rows) {
      const history = (r.categorical[25] as string).split(HISTORY_SEPARATOR);
      expect(history.length).to.be.within(1, 8);
      for (const h of history) expect(category.has(h), `history element ${h} is a C1 token`).to.equal(true);
      const cand = category.get(r.categorical[0] as string) as number;
      const match = history.some((h) => category.get(h) === (cand + HISTORY_CATEGORIES - 1) % HISTORY_CATEGORIES) ? 1 : 0;
      byMatch[match][r.label]++;
    }
    const ctr = (m: number) => byMatch[m][1] / (byMatch[m][0] + byMatch[m][1]);
    // ±2 on the logit: a candidate that completes the history is clicked far more often.
    expect(ctr(1) - ctr(0)).to.be.above(0.3);
    expect(a.oracleAuc).to.be.above(0.8);
  });

  it('refuses a history length out of range and too few items to hold the categories', async () => {
    const err = (o: object) => generate({ rows: 10, seed: 1, out: join(dir, 'x.tsv'), ...o }).then(() => 'accepted', (e: Error) => e.message);
    expect(await err({ history: 65 })).to.equal('history must be an integer in [1, 64], got 65');
    expect(await err({ history: 4, vocab: 5 })).to.equal('history needs a vocabulary of at least 12 items in C1 (its 12 item categories), got 5');
  });
});
