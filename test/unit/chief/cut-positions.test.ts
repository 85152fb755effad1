import { expect } from 'chai';
import { acknowledgedSteps, countedSteps, positionsAtCut } from '../../../src/chief/cut-positions';
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

  it('acknowledges a counted step only when its worker committed at or past it on every shard it names (a PS restarted after it waits for nothing)', () => {
    const progress = (shard: number, worker: string, rows: number, epoch = 0): Progress => ({ shard, epoch, next: 10 * rows, rows, steps: rows / 10, done: false, loss: null, worker });
    const best = new Map([
      [1n, { step: 3, positions: positions('w0', 'a', 3) }], // shard 0 at 30 rows
      [2n, { step: 4, positions: positions('w1', 'b', 4, 1) }], // shard 1 at 40 rows
      [3n, { step: 2, positions: positions('w2', 'c', 2, 2) }], // shard 2 at 20 rows
      [4n, { step: 5, positions: positions('w3', 'd', 5, 3) }], // shard 3 at 50 rows
      [5n, { step: 1, positions: new Uint8Array(0) }],
    ]);
    const committed = new Map<number, Progress>([
      [0, progress(0, 'w0', 30)], // committed exactly at the step: acknowledged
      [1, progress(1, 'w1', 30)], // behind the step: its last pushes may be on their way
      [2, progress(2, 'w9', 90)], // another worker's record
      [3, progress(3, 'w3', 60, 1)], // another epoch
    ]);
    expect([...acknowledgedSteps(best, [1n, 2n, 3n, 4n, 5n], committed)]).to.deep.equal([1n]);
    expect([...acknowledgedSteps(best, [2n, 3n], committed)], 'only counted step ids').to.deep.equal([]);
  });
});
