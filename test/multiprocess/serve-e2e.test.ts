/**
 * Issue 14, "Done when": a job trained by `tessera local --export-dir` (real etcd, PS, workers and
 * chief processes) is served by `tessera serve`, and every step is checked from outside:
 *   1. it serves the published versions;
 *   2. its predictions equal `tessera eval --predictions` for the same rows within 1e-6;
 *   3. a newly published version (`tessera train --export-dir`) is picked up;
 *   4. `tessera serve rollback` takes effect;
 *   5. `--split` sends each user (key C1) to stable or canary;
 *   6. feedback gives each version its AUC with a confidence interval, read with `tessera serve status`.
 * Every wait is on an event: a log line of the server, or the end of a command.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { requireEtcd } from '../helpers/etcd';
import { curl, exactAuc } from '../helpers/serve';
import { spawnNode, Spawned } from '../helpers/spawn';
import { lastJson, runTessera } from '../helpers/tessera';
import { ROOT } from '../helpers/cluster';

const CRITEO = path.resolve(ROOT, '..', 'shared', 'data', 'criteo_dac', 'train_rows_00001-08000.txt');
const JOB = path.join(ROOT, 'examples', 'criteo-deepfm.yaml');
const MODEL = 'criteo-deepfm';

/** A Criteo line as a request instance: raw values by field name, empty cells left out. */
function instanceOf(line: string): { label: number; instance: Record<string, string | number> } {
  const cells = line.split('\t');
  const instance: Record<string, string | number> = {};
  for (let i = 1; i <= 13; i++) if (cells[i] !== '') instance[`I${i}`] = Number(cells[i]);
  for (let i = 1; i <= 26; i++) if (cells[13 + i] !== '') instance[`C${i}`] = cells[13 + i];
  return { label: Number(cells[0]), instance };
}

describe('serving end to end: tessera local --export-dir → tessera serve → eval parity, hot update, rollback, split, feedback (issue 14)', function () {
  this.timeout(300_000);
  let dir = '';
  let server: Spawned | undefined;

  before(function () {
    requireEtcd(this);
    if (!fs.existsSync(CRITEO)) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-e2e-'));
  });

  after(async () => {
    await server?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('trains, serves, matches eval, picks up a new version, rolls back, splits and scores feedback per version', async () => {
    const lines = fs.readFileSync(CRITEO, 'utf8').split('\n').filter((l) => l.length > 0);
    const train = path.join(dir, 'train.txt');
    const evalFile = path.join(dir, 'eval.txt');
    fs.writeFileSync(train, `${lines.slice(0, 7000).join('\n')}\n`);
    fs.writeFileSync(evalFile, `${lines.slice(7000).join('\n')}\n`);
    const root = path.join(dir, 'models');

    // Training publishes a version at the end of epoch 1 and at the job end (after epoch 2).
    const local = await runTessera(['local', '--ps', '2', '--workers', '2', '--job', JOB, '--data', train, '--eval', evalFile,
      '--epochs', '2', '--export-dir', root, '--run-dir', path.join(dir, 'run'), '--json']);
    expect(local.code, local.stderr).to.equal(0);
    const trained = lastJson(local.stdout);
    expect(fs.readdirSync(path.join(root, MODEL)).filter((d) => /^\d+$/.test(d)).sort()).to.deep.equal(['1', '2']);
    expect(trained.model_version, 'the job end\'s version').to.equal(2);

    // 1. Serve it, with a canary split by C1 ready for when a canary label exists.
    server = spawnNode(TESSERA_BIN, ['serve', '--model-root', root, '--port', '0', '--split', 'stable=50,canary=50', '--split-key', 'C1', '--json']);
    const url = (JSON.parse(await server.waitForLine(/^\{"rest":/, 60_000)) as { rest: string }).rest;
    await server.waitForLine(/"msg":"first scan done"/, 60_000);
    expect((await curl('GET', `${url}/v2/health/ready`)).status).to.equal(200);

    // 2. The served predictions are tessera eval's for the same rows.
    const rows = lines.slice(7000).map(instanceOf);
    const predictionsFile = path.join(dir, 'eval-predictions.tsv');
    const ev = await runTessera(['eval', '--checkpoint', path.join(root, MODEL, '2'), '--data', evalFile, '--predictions', predictionsFile, '--json']);
    expect(ev.code, ev.stderr).to.equal(0);
    const evalP = fs.readFileSync(predictionsFile, 'utf8').trim().split('\n').map((l) => Number(l.split('\t')[0]));
    expect(evalP).to.have.length(rows.length);
    const served = await curl('POST', `${url}/v1/models/${MODEL}:predict`, JSON.stringify({ instances: rows.map((r) => r.instance) }));
    expect(served.status, JSON.stringify(served.body).slice(0, 300)).to.equal(200);
    expect(served.body.model_version).to.equal('2');
    let worst = 0;
    served.body.predictions.forEach((p: number, i: number) => { worst = Math.max(worst, Math.abs(p - evalP[i])); });
    expect(worst, 'largest difference from tessera eval').to.be.at.most(1e-6);

    // 3. A new version (tessera train --export-dir) is picked up by the running server.
    const t = await runTessera(['train', '--job', JOB, '--data', train, '--eval', evalFile, '--epochs', '1', '--export-dir', root, '--json']);
    expect(t.code, t.stderr).to.equal(0);
    expect(lastJson(t.stdout).model_version).to.equal(3);
    await server.waitForLine(/"version":3,"seconds":[\d.e-]+.*"msg":"version loaded"/, 60_000);
    const probe = { instances: rows.slice(0, 20).map((r) => r.instance) };
    expect((await curl('POST', `${url}/v1/models/${MODEL}:predict`, JSON.stringify(probe))).body.model_version).to.equal('3');

    // 4. Roll back to version 2: in effect when the command returns.
    const rb = await runTessera(['serve', 'rollback', '--model', MODEL, '--to', '2', '--model-root', root, '--server', url]);
    expect(rb.code, rb.stderr).to.equal(0);
    const back = (await curl('POST', `${url}/v1/models/${MODEL}:predict`, JSON.stringify(probe))).body;
    expect(back.model_version).to.equal('2');
    expect(back.predictions).to.deep.equal(served.body.predictions.slice(0, 20));

    // 5. Version 3 as the canary: rows go by their C1 value, the same value always to the same version.
    const lb = await runTessera(['serve', 'label', '--model', MODEL, '--set', 'canary=3', '--model-root', root, '--server', url]);
    expect(lb.code, lb.stderr).to.equal(0);
    const split = (await curl('POST', `${url}/v1/models/${MODEL}:predict`, JSON.stringify({ instances: rows.map((r) => r.instance) }))).body;
    const byC1 = new Map<string, number>();
    split.versions.forEach((v: number, i: number) => {
      const key = String(rows[i].instance.C1 ?? '');
      if (key !== '') expect(byC1.get(key) ?? v, `C1=${key}`).to.equal(v);
      byC1.set(key, v);
    });
    const onCanary = split.versions.filter((v: number) => v === 3).length;
    expect(onCanary, 'both sides get rows').to.be.within(50, rows.length - 50);

    // 6. Feedback with the true labels: each version's AUC, with its interval, from tessera serve status.
    const fb = await curl('POST', `${url}/v1/models/${MODEL}:feedback`, JSON.stringify({ feedback: [{ request_id: split.request_id, labels: rows.map((r) => r.label) }] }));
    expect(fb.status, JSON.stringify(fb.body)).to.equal(200);
    expect(fb.body.accepted).to.equal(rows.length);
    const status = await runTessera(['serve', 'status', '--server', url, '--json']);
    expect(status.code, status.stderr).to.equal(0);
    const quality = lastJson(status.stdout).models[0].feedback.versions;
    for (const v of [2, 3]) {
      const pairs = rows.map((r, i) => ({ p: split.predictions[i], y: r.label, v: split.versions[i] })).filter((x) => x.v === v);
      const q = quality[String(v)];
      expect(q.count, `version ${v} rows`).to.equal(pairs.length);
      expect(Math.abs(q.auc - exactAuc(pairs)), `version ${v} AUC`).to.be.at.most(q.auc_max_error + 1e-9);
      expect(q.auc_ci95[0]).to.be.below(q.auc);
      expect(q.auc_ci95[1]).to.be.above(q.auc);
    }
    expect(await server.kill('SIGTERM')).to.deep.equal({ code: 0, signal: null });
  });
});
