/** The status page's curves and record (issue 19). */
import { expect } from 'chai';
import type { JobStatus } from '../../../src/control/job-types';
import { StatusPage } from '../../../src/chief/status-page';
import { statusRecord } from '../../../src/chief/status-record';

const status = (ms: number, rows: Record<string, number>, epoch = 0): JobStatus => ({
  epoch, epochs: 2, phase: 'train', step: 1, samples: 0, samplesPerS: 0, loss: 0.5, lastEval: null, shardsDone: 0, shardsTotal: 4,
  workers: 2, chief: 'c', at: new Date(ms).toISOString(), workerSamples: rows,
});

describe('status page', () => {
  const page = () => new StatusPage({ readers: undefined as never });

  it('measures samples/s per worker over at least 3 s, and starts over at a new epoch', () => {
    const p = page();
    p.onStatus(status(0, { w0: 0, w1: 0 }));
    p.onStatus(status(500, { w0: 1000, w1: 0 }));
    p.onStatus(status(3000, { w0: 3000, w1: 1500 }));
    p.onStatus(status(3000, { w0: 9999 })); // the same status again: ignored
    p.onStatus(status(3500, { w0: 3000 }, 1)); // epoch 2: rows start over
    const h = (p as unknown as { history: { workers: Record<string, number> }[] }).history;
    expect(h.map((x) => x.workers)).to.deep.equal([{}, {}, { w0: 1000, w1: 500 }, {}]);
  });

  it('names the chief by its id, 1-based epochs everywhere', () => {
    const r = statusRecord({
      job: 'j', chief: JSON.stringify({ id: 'chief-0', addr: 'a:1' }), members: [], map: undefined,
      snap: { state: undefined, assignments: new Map(), progress: new Map() },
      live: { ...status(0, {}), lastEval: { epoch: 0, auc: 0.7, logloss: 0.5, rows: 1 } },
    });
    expect(r.chief).to.equal('chief-0');
    expect(r.progress).to.deep.include({ epoch: 1, epochs: 2 });
    expect(r.progress?.last_eval?.epoch).to.equal(1);
  });
});
