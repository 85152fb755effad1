/**
 * Issue 15, `tessera serve --follow` end to end: `tessera local --export-dir ROOT --delta-every 1`
 * trains (real etcd, PS, workers and chief processes) while its chief publishes a delta stream;
 * `tessera serve --follow --etcd URL --job NAME` (a real process) rescans on each announcement
 * and applies the deltas, so the prediction it serves for the same rows moves with the deltas;
 * after the job, a restarted server catches up to the newest version on disk.
 * Every wait is on an event: a line of a process, or its exit.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listDeltas } from '../../src/export/delta-dir';
import { listVersions } from '../../src/export/model-root';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { requireEtcd } from '../helpers/etcd';
import { criteoInstance, curl } from '../helpers/serve';
import { spawnNode, Spawned } from '../helpers/spawn';
import { ROOT } from '../helpers/cluster';

const CRITEO = path.resolve(ROOT, '..', 'shared', 'data', 'criteo_dac', 'train_rows_00001-08000.txt');
const JOB = path.join(ROOT, 'examples', 'criteo-deepfm.yaml');
const MODEL = 'criteo-deepfm';

describe('tessera serve --follow end to end: a training job\'s delta stream served as it is published (issue 15)', function () {
  this.timeout(300_000);
  let dir = '';
  const procs: Spawned[] = [];

  before(function () {
    requireEtcd(this);
    if (!fs.existsSync(CRITEO)) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-follow-e2e-'));
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function serve(root: string, extra: string[]): Promise<{ s: Spawned; url: string }> {
    // A poll far longer than the test: versions come in through etcd announcements and file-system events.
    const s = spawnNode(TESSERA_BIN, ['serve', '--follow', '--model-root', root, '--port', '0', '--poll-ms', '600000', '--json', ...extra]);
    procs.push(s);
    return { s, url: (JSON.parse(await s.waitForLine(/^\{"rest":/, 60_000)) as { rest: string }).rest };
  }

  async function predict(url: string, instances: unknown[]): Promise<{ model_version: string; predictions: number[] }> {
    const r = await curl('POST', `${url}/v1/models/${MODEL}:predict`, JSON.stringify({ instances }));
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).to.equal(200);
    return r.body;
  }

  it('applies the deltas of a running job, its predictions moving with them, and a restarted server catches up', async () => {
    const lines = fs.readFileSync(CRITEO, 'utf8').split('\n').filter((l) => l.length > 0);
    const train = path.join(dir, 'train.txt');
    fs.writeFileSync(train, `${lines.slice(0, 7000).join('\n')}\n`);
    const probe = lines.slice(7000, 7020).map(criteoInstance);
    const root = path.join(dir, 'models');
    const local = spawnNode(TESSERA_BIN, ['local', '--ps', '2', '--workers', '2', '--job', JOB, '--data', train, '--epochs', '8',
      '--export-dir', root, '--delta-every', '1', '--full-every', '1000', '--run-dir', path.join(dir, 'run'), '--json']);
    procs.push(local);
    const [, etcd, job] = /tessera local: etcd (\S+), job (\S+)/.exec(await local.waitForLine(/tessera local: etcd /, 120_000))!;
    const { s, url } = await serve(root, ['--etcd', etcd, '--job', job]);
    await s.waitForLine(/"msg":"watching deltas\/latest/, 30_000);

    // The first delta served, then one published after it (the next few numbers: an epoch end's full version may come between).
    await s.waitForLine(/"msg":"delta applied"/, 120_000);
    const first = await predict(url, probe);
    const v1 = Number(first.model_version);
    const later = [1, 2, 3, 4].map((i) => v1 + i).join('|');
    await s.waitForLine(new RegExp(`"version":(?:${later}),.*"msg":"delta applied"`), 120_000);
    const second = await predict(url, probe);
    expect(Number(second.model_version), 'a later delta is served').to.be.greaterThan(v1);
    expect(second.predictions, 'the predictions moved with the deltas').to.not.deep.equal(first.predictions);

    expect((await local.exited).code, local.lines.slice(-20).join('\n')).to.equal(0);
    const status = (await curl('GET', `${url}/status`)).body;
    expect(status.models[0].follow.refused, JSON.stringify(status.models[0].follow)).to.equal(0);
    expect(status.models[0].follow.applied).to.be.at.least(2);

    // Restart: from the newest full version plus the deltas after it, to the newest version on disk.
    await s.kill();
    const newest = Math.max(...listVersions(root, MODEL), ...listDeltas(root, MODEL));
    const again = await serve(root, []);
    await again.s.waitForLine(/"msg":"first scan done"/, 60_000);
    expect((await predict(again.url, probe)).model_version).to.equal(String(newest));
  });
});
