/**
 * Issue #15 §3 "A trend is learned and served", on real processes: a stream job (`tessera local
 * --source redis-stream://…`, real redis-server, etcd, PS, workers, chief) publishes deltas every
 * DELTA_EVERY_S; `tessera serve --follow` applies them. Rows with a brand-new id (never seen:
 * served at its cold-start value) are then replayed with label 1, and within DELTA_EVERY_S + 10 s
 * of the replay the served prediction for rows with that id rises above the threshold.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { ROOT } from '../helpers/cluster';
import { requireEtcd } from '../helpers/etcd';
import { redisForSuite } from '../helpers/redis';
import { criteoInstance, curl } from '../helpers/serve';
import { spawnNode, Spawned } from '../helpers/spawn';
import { lastJson, runTessera } from '../helpers/tessera';

const CRITEO = path.resolve(ROOT, '..', 'shared', 'data', 'criteo_dac', 'train_rows_00001-08000.txt');
const JOB = path.join(ROOT, 'examples', 'criteo-deepfm.yaml');
const MODEL = 'criteo-deepfm';
const DELTA_EVERY_S = 2;
/** The planted id, in C1: no Criteo value looks like it. */
const NEW_ID = 'feedbeef';
/** Trend events replayed. */
const TREND_ROWS = 3000;

function withNewId(line: string, label: number): string {
  const cells = line.split('\t');
  cells[0] = String(label);
  cells[14] = NEW_ID;
  return cells.join('\t');
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('stream job: a trend is learned and served (issue #15)', function () {
  this.timeout(300_000);
  const redis = redisForSuite();
  let dir = '';
  const procs: Spawned[] = [];
  before(function () {
    requireEtcd(this);
    if (!fs.existsSync(CRITEO)) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-stream-trend-'));
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function predict(url: string, instances: unknown[]): Promise<{ version: number; mean: number }> {
    const r = await curl('POST', `${url}/v1/models/${MODEL}:predict`, JSON.stringify({ instances }));
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).to.equal(200);
    return { version: Number(r.body.model_version), mean: mean(r.body.predictions as number[]) };
  }

  async function replay(lines: string[], name: string, source: string): Promise<void> {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await runTessera(['replay', file, '--to', source, '--partitions', '2', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(lastJson(r.stdout).events).to.equal(lines.length);
  }

  it('serves a rising prediction for a brand-new id within delta-every + 10 s of its events', async () => {
    const lines = fs.readFileSync(CRITEO, 'utf8').split('\n').filter((l) => l.length > 0);
    const source = redis.handle.streamUrl('clicks');
    const root = path.join(dir, 'models');
    // Background traffic first, so the job has trained and published before the trend starts.
    await replay(lines.slice(0, 4000), 'background.txt', source);
    const local = spawnNode(TESSERA_BIN, ['local', '--ps', '2', '--workers', '2', '--chiefs', '1', '--job', JOB, '--source', source, '--partitions', '2',
      '--eval-every', '0', '--export-dir', root, '--delta-every', String(DELTA_EVERY_S), '--full-every', '1000', '--run-dir', path.join(dir, 'run')]);
    procs.push(local);
    const [, etcd, job] = /tessera local: etcd (\S+), job (\S+)/.exec(await local.waitForLine(/tessera local: etcd /, 120_000))!;
    const serve = spawnNode(TESSERA_BIN, ['serve', '--follow', '--model-root', root, '--port', '0', '--poll-ms', '600000', '--json', '--etcd', etcd, '--job', job]);
    procs.push(serve);
    const url = (JSON.parse(await serve.waitForLine(/^\{"rest":/, 60_000)) as { rest: string }).rest;
    await serve.waitForLine(/"msg":"delta applied"/, 120_000);

    const probe = lines.slice(7000, 7050).map((l) => criteoInstance(withNewId(l, 0)));
    const cold = await predict(url, probe);
    await replay(lines.slice(4000, 4000 + TREND_ROWS).map((l) => withNewId(l, 1)), 'trend.txt', source);
    const deadline = Date.now() + (DELTA_EVERY_S + 10) * 1000;
    const threshold = Math.min(0.95, cold.mean + 0.2);
    let now = cold;
    while (now.mean <= threshold && Date.now() < deadline) {
      // The next delta applied after the one now served (a later one may come first).
      const next = [1, 2, 3, 4, 5].map((i) => now.version + i).join('|');
      await serve.waitForLine(new RegExp(`"version":(?:${next}),.*"msg":"delta applied"`), Math.max(1, deadline - Date.now())).catch(() => undefined);
      now = await predict(url, probe);
    }
    expect(now.mean, `served mean prediction for ${NEW_ID} rows: cold ${cold.mean.toFixed(3)} at v${cold.version}, now v${now.version}`).to.be.greaterThan(threshold);
    // A stream job has no end: SIGTERM is how it stops, and that is success.
    expect((await local.kill('SIGTERM')).code, local.lines.slice(-20).join('\n')).to.equal(0);
  });
});
