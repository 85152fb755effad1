/** The run directory's scrape targets and curves (issue 19). */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { JobStatus } from '../../../src/control/job-types';
import type { Member } from '../../../src/membership/membership';
import { MetricsLog, targetGroups } from '../../../src/local/run-records';

const member = (role: Member['role'], id: string, metrics?: string): Member => ({
  role, id, addr: 'a:1', incarnation: 'i', startedAt: '', pid: 1, host: 'h', ...(metrics ? { metrics } : {}),
});

describe('run records', () => {
  it('lists every member that serves metrics as one file_sd group, without labels that would collide', () => {
    const groups = targetGroups([member('ps', 'ps-0', '127.0.0.1:9002'), member('chief', 'c', '127.0.0.1:9001'), member('worker', 'w', undefined)]);
    expect(groups).to.deep.equal([{ targets: ['127.0.0.1:9001', '127.0.0.1:9002'] }]);
    expect(targetGroups([])).to.deep.equal([]);
  });

  it('appends a progress line per new status and one eval line per evaluated epoch, 1-based', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-records-')), 'metrics.jsonl');
    const log = new MetricsLog(file);
    const base: JobStatus = {
      epoch: 0, epochs: 2, phase: 'train', step: 5, samples: 100, samplesPerS: 50, loss: 0.5, lastEval: null,
      shardsDone: 0, shardsTotal: 4, workers: 1, chief: 'c', at: 't1',
    };
    log.onStatus(base);
    log.onStatus(base); // the same record again: nothing new
    const evalled = { ...base, epoch: 1, at: 't2', lastEval: { epoch: 0, auc: 0.7, logloss: 0.5, rows: 10 } };
    log.onStatus(evalled);
    log.onStatus({ ...evalled, at: 't3', pushStalenessP99: 6 });
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.kind)).to.deep.equal(['progress', 'progress', 'eval', 'progress']);
    expect(lines[0]).to.deep.equal({ kind: 'progress', at: 't1', epoch: 1, phase: 'train', step: 5, samples: 100, loss: 0.5, samples_per_s: 50, push_staleness_p99: null });
    expect(lines[2]).to.deep.equal({ kind: 'eval', at: 't2', epoch: 1, auc: 0.7, logloss: 0.5, rows: 10 });
    expect(lines[3].push_staleness_p99, 'the job\'s push staleness p99 (issue 19)').to.equal(6);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
