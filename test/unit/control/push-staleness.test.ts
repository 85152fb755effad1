/**
 * Issue 19 §4: push staleness tallied in fixed buckets, carried in progress records, and summed
 * by the chief into the job status's p99.
 */
import { expect } from 'chai';
import { jobStatus } from '../../../src/chief/job-status';
import type { JobState, Progress } from '../../../src/control/job-types';
import { parseProgress } from '../../../src/control/job-types';
import {
  addStalenessSince, emptyStalenessCounts, parseStalenessCounts, STALENESS_BUCKETS, stalenessQuantile, StalenessTally,
} from '../../../src/control/push-staleness';

const bucketOf = (bound: number) => STALENESS_BUCKETS.indexOf(bound);

describe('push staleness counts (issue 19)', () => {
  it('tally each value in the bucket of its upper bound, overflow last, and keep the sum', () => {
    const t = new StalenessTally();
    t.observe(Uint32Array.of(0, 0, 1, 5, 6, 7, 4096, 4097, 1 << 30));
    expect(t.counts[bucketOf(0)]).to.equal(2);
    expect(t.counts[bucketOf(1)]).to.equal(1);
    expect(t.counts[bucketOf(6)], '5 and 6 share (4, 6]').to.equal(2);
    expect(t.counts[bucketOf(8)]).to.equal(1);
    expect(t.counts[bucketOf(4096)]).to.equal(1);
    expect(t.counts[STALENESS_BUCKETS.length], 'overflow').to.equal(2);
    expect(t.counts.reduce((a, b) => a + b, 0)).to.equal(9);
    expect(t.sum).to.equal(0 + 0 + 1 + 5 + 6 + 7 + 4096 + 4097 + (1 << 30));
  });

  it('p99 is the upper bound of the bucket the 99th percentile falls in: exact for small values', () => {
    const t = new StalenessTally();
    expect(stalenessQuantile(t.counts, 0.99)).to.equal(null);
    t.observe(new Uint32Array(990)); // 990 zeros
    t.observe(new Uint32Array(10).fill(3));
    expect(stalenessQuantile(t.counts, 0.99)).to.equal(0);
    t.observe(Uint32Array.of(3));
    expect(stalenessQuantile(t.counts, 0.99)).to.equal(3);
    expect(stalenessQuantile(t.counts, 1)).to.equal(3);
    const wide = new StalenessTally();
    wide.observe(Uint32Array.of(13, 13));
    expect(stalenessQuantile(wide.counts, 0.99), 'an upper bound above 4').to.equal(16);
    wide.observe(new Uint32Array(200).fill(1e6));
    expect(stalenessQuantile(wide.counts, 0.99), 'overflow: the last bound, a floor').to.equal(4096);
  });

  it('carries a record forward by what was observed since a base', () => {
    const t = new StalenessTally();
    t.observe(Uint32Array.of(1));
    const base = [...t.counts];
    t.observe(Uint32Array.of(1, 2));
    const prior = emptyStalenessCounts();
    prior[bucketOf(0)] = 4;
    const next = addStalenessSince(prior, t.counts, base);
    expect(next[bucketOf(0)]).to.equal(4);
    expect(next[bucketOf(1)]).to.equal(1);
    expect(next[bucketOf(2)]).to.equal(1);
    expect(addStalenessSince(undefined, t.counts, base)[bucketOf(0)]).to.equal(0);
  });

  it('a progress record carries its counts; a malformed one is refused naming the field', () => {
    const counts = emptyStalenessCounts();
    counts[1] = 3;
    const p: Progress = { shard: 0, epoch: 0, next: 10, rows: 5, steps: 1, done: false, loss: 0.5, worker: 'w', staleness: counts };
    expect(parseProgress(JSON.stringify(p))).to.deep.equal(p);
    const { staleness: _s, ...without } = p;
    expect(parseProgress(JSON.stringify(without))).to.not.have.property('staleness');
    expect(() => parseProgress(JSON.stringify({ ...p, staleness: [1, 2] }))).to.throw(`progress: staleness must be ${STALENESS_BUCKETS.length + 1} non-negative integers`);
    expect(() => parseStalenessCounts(counts.map(() => -1), 'x')).to.throw(/x: staleness/);
  });

  it('the job status sums the counts of this epoch\'s progress records into its p99', () => {
    const state: JobState = {
      epoch: 1, epochs: 2, phase: 'train', shards: [0, 1, 2].map((id) => ({ id, path: 'f', start: 0, end: 10, gzip: false })),
      samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date(0).toISOString(), evals: [],
    };
    const rec = (shard: number, epoch: number, bound: number, n: number): Progress => {
      const staleness = emptyStalenessCounts();
      staleness[bucketOf(bound)] = n;
      return { shard, epoch, next: 5, rows: 5, steps: 1, done: false, loss: 0.5, worker: `w${shard}`, staleness };
    };
    const status = (progress: Progress[]) => jobStatus({
      state, progress: new Map(progress.map((p) => [p.shard, p])), shardsDone: 0, workers: 2, chief: 'c', nowMs: 1000, lastLoss: null,
    }).pushStalenessP99;
    expect(status([])).to.equal(null);
    // 98 rows at 0 on shard 0, 2 rows at 3 on shard 1: the 99th of 100 is at 3.
    expect(status([rec(0, 1, 0, 98), rec(1, 1, 3, 2)])).to.equal(3);
    expect(status([rec(0, 1, 0, 99), rec(1, 1, 3, 1)])).to.equal(0);
    // A record of the previous epoch does not count.
    expect(status([rec(0, 1, 0, 99), rec(1, 1, 3, 1), rec(2, 0, 64, 50)])).to.equal(0);
  });
});
