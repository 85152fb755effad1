import { expect } from 'chai';
import { countedSteps, positionsAtCut } from '../../../src/chief/cut-positions';
import type { Progress } from '../../../src/control/job-types';
import { StepPositions } from '../../../src/control/step-positions';

// Issue 15: the chief's choice of step ids for a cut at per-worker steps (ADR 0040) and the
// positions it records from them.

function positions(worker: string, incarnation: string, sets: number, shard = 0): Uint8Array {
  const p = new StepPositions({ worker, incarnation: () => incarnation });
  for (let i = 1; i <= sets; i++) p.set({ shard, epoch: 0, next: 100 * i, rows: 10 * i, steps: i });
  return p.encode();
}

describe('countedSteps and positionsAtCut (issue 15)', () => {
  const live = [{ id: 'w0', incarnation: 'a' }, { id: 'w1', incarnation: 'b' }];

  it('counts per live incarnation only the step id with the newest positions; leaves out dead and old incarnations', () => {
    const best = new Map([
      [1n, { step: 9, positions: positions('w0', 'a', 2) }], // renewed away from: older seq
      [2n, { step: 3, positions: positions('w0', 'a', 5) }],
      [3n, { step: 4, positions: positions('w1', 'old', 7, 1) }], // the previous process of w1
      [4n, { step: 1, positions: positions('w2', 'c', 1, 2) }], // w2 is dead
      [5n, { step: 2, positions: new Uint8Array(0) }], // no worker's positions
    ]);
    expect([...countedSteps(best, live)]).to.deep.equal([2n]);
  });

  it('overwrites the committed records of the counted workers\' shards and keeps the others', () => {
    const committed = new Map<number, Progress>([
      [0, { shard: 0, epoch: 0, next: 100, rows: 10, steps: 1, done: false, loss: 0.7, worker: 'w0' }],
      [1, { shard: 1, epoch: 0, next: 50, rows: 5, steps: 1, done: false, loss: 0.6, worker: 'w1' }],
    ]);
    const out = positionsAtCut(committed, new Map([[2n, positions('w0', 'a', 3)]]));
    expect(out.get(0)).to.deep.equal({ shard: 0, epoch: 0, next: 300, rows: 30, steps: 3, done: false, loss: 0.7, worker: 'w0' });
    expect(out.get(1)).to.equal(committed.get(1));
    expect(committed.get(0)!.rows, 'the committed map is left as it was').to.equal(10);
  });
});
