/**
 * The serving overlay of a delta chain (issue 15, freshness): a chain of deltas with rewritten
 * rows, tombstones and ids written again after their tombstone, applied one by one with every
 * layer merge the stack makes, reads exactly what a plain map of the latest change per id says:
 * the newest weights, the cold-start value for a removed id, the base's value for an untouched id.
 */
import { expect } from 'chai';
import { TableStore } from '../../../src/ps/store/table-store';
import { MAX_LAYERS, RowOverlay } from '../../../src/serve/row-overlay';

const DIM = 4;
const IDS = 300;

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('RowOverlay: a delta chain reads the latest change of every id (issue 15)', () => {
  it('matches a reference map across 60 deltas of rewrites, tombstones and revivals, through every merge', () => {
    const cold = new TableStore();
    cold.create({ name: 't', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 0.1 } });
    const coldTable = cold.getEmbedding('t');
    const all = new Uint32Array(2 * IDS);
    for (let i = 0; i < IDS; i++) [all[2 * i], all[2 * i + 1]] = [Math.imul(i + 1, 2654435761) >>> 0, i % 7];
    const coldRows = new Float32Array(IDS * DIM);
    coldTable.peek(all, coldRows);
    const latest = new Map<number, Float32Array | null>();
    const rnd = rng(42);
    let overlay = RowOverlay.EMPTY;
    let deepest = 0;
    for (let d = 0; d < 60; d++) {
      const rows: number[] = [];
      const gone: number[] = [];
      for (let i = 0; i < IDS; i++) {
        const x = rnd();
        if (x < 0.15) rows.push(i);
        else if (x < 0.2) gone.push(i);
      }
      const weights = Float32Array.from({ length: rows.length * DIM }, () => rnd());
      rows.forEach((i, k) => latest.set(i, weights.slice(k * DIM, (k + 1) * DIM)));
      gone.forEach((i) => latest.set(i, null));
      const pick = (idx: number[]) => Uint32Array.from(idx.flatMap((i) => [all[2 * i], all[2 * i + 1]]));
      overlay = overlay.with([{ name: 't', dim: DIM, ids: pick(rows), weights, tombstones: pick(gone) }], () => coldTable).overlay;
      deepest = Math.max(deepest, overlay.depth('t'));
      const out = new Float32Array(IDS * DIM).fill(-1); // the base's value: -1
      overlay.patch('t', all, out);
      const want = new Float32Array(IDS * DIM).fill(-1);
      for (const [i, w] of latest) want.set(w ?? coldRows.subarray(i * DIM, (i + 1) * DIM), i * DIM);
      const wrong = [...Array(IDS).keys()].filter((i) => out.subarray(i * DIM, (i + 1) * DIM).some((v, k) => v !== want[i * DIM + k]));
      expect(wrong, `delta ${d}: ids read wrong`).to.deep.equal([]);
    }
    expect(deepest, 'layers stacked and merged').to.be.within(2, MAX_LAYERS);
  });
});
