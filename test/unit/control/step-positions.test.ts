import { expect } from 'chai';
import { decodeStepPositions, overProgress, StepPositions } from '../../../src/control/step-positions';

// Issue 15 (ADR 0040): the positions a worker's tagged pushes carry, and how the chief reads them.
describe('step positions', () => {
  it('round-trips the worker, its incarnation, an update count and each shard where it stands', () => {
    let inc = 'a';
    const p = new StepPositions({ worker: 'w1', incarnation: () => inc });
    p.set({ shard: 2, epoch: 1, next: 4096, rows: 100, steps: 4 });
    p.set({ shard: 7, epoch: 1, next: 0, entry: '17-3', rows: 9, steps: 1 });
    const first = p.encode();
    expect(p.encode(), 'cached until the next change').to.equal(first);
    expect(decodeStepPositions(first)).to.deep.equal({
      worker: 'w1', incarnation: 'a', seq: 2,
      shards: [{ shard: 2, epoch: 1, next: 4096, rows: 100, steps: 4 }, { shard: 7, epoch: 1, next: 0, entry: '17-3', rows: 9, steps: 1 }],
    });
    inc = 'b';
    p.drop(2);
    expect(decodeStepPositions(p.encode())).to.deep.include({ incarnation: 'b', seq: 3 });
    expect(decodeStepPositions(p.encode())!.shards.map((s) => s.shard)).to.deep.equal([7]);
  });

  it('reads no positions from bytes that are not a worker\'s', () => {
    expect(decodeStepPositions(new Uint8Array(0))).to.equal(undefined);
    expect(decodeStepPositions(new TextEncoder().encode('w0@3'))).to.equal(undefined);
    expect(decodeStepPositions(new TextEncoder().encode('[1,2,3,4]'))).to.equal(undefined);
  });

  it('lays a position over the committed record, keeping what a step does not move', () => {
    const committed = { shard: 2, epoch: 1, next: 10, rows: 5, steps: 1, done: false, loss: 0.5, worker: 'w0' };
    expect(overProgress(committed, { shard: 2, epoch: 1, next: 99, rows: 50, steps: 9 }, 'w1'))
      .to.deep.equal({ shard: 2, epoch: 1, next: 99, rows: 50, steps: 9, done: false, loss: 0.5, worker: 'w1' });
  });
});
