/**
 * Issue 14, section 2 (online per-version quality) and section 3 on served traffic: labels sent
 * to POST /v1/models/NAME:feedback, by request id or with the features, are scored on the version
 * that answered each row. Each version's AUC (with its 95% interval), LogLoss, slices and grouped
 * AUC appear in /status and the metrics, and agree with an exact AUC computed here from the same
 * (prediction, label) pairs.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { mulberry32Unit } from '../../src/common/mulberry32';
import { silentLogger } from '../../src/common/logger';
import { writeLabels } from '../../src/export/model-labels';
import { selectBackend } from '../../src/model/backend';
import { ModelServer } from '../../src/serve/model-server';
import { parseSplit } from '../../src/serve/traffic-split';
import { curl, exactAuc, publishTestModel, testInstances } from '../helpers/serve';

describe('tessera serve feedback: per-version AUC with confidence intervals, slices and grouped AUC (issue 14)', function () {
  this.timeout(60_000);
  let root = '';
  let server: ModelServer | undefined;
  let registry: Registry;

  before(async () => {
    await selectBackend(silentLogger());
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-feedback-'));
    await publishTestModel(root, { seed: 1 });
    await publishTestModel(root, { seed: 2 });
    await writeLabels(root, 'srv', { stable: 1, canary: 2 });
    registry = new Registry();
    server = await ModelServer.start({
      root, host: '127.0.0.1', port: 0, pollMs: 0, split: parseSplit('stable=50,canary=50'), splitKey: 'user',
      feedback: { sliceBy: ['C1'], groupBy: 'user' },
    }, { logger: silentLogger(), registry });
    await server.registry.rescan();
  });

  after(async () => {
    await server?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('scores labels on the version that answered each row; figures match an exact AUC of the same pairs', async () => {
    const url = server!.rest.url;
    const rnd = mulberry32Unit(99);
    const pairs: Record<number, { p: number; y: number }[]> = { 1: [], 2: [] };
    const feedback: unknown[] = [];
    for (let req = 0; req < 4; req++) {
      const instances = testInstances(100, 40 + req).map((x, i) => ({ ...x, user: `u${i % 60}` }));
      const r = (await curl('POST', `${url}/v1/models/srv:predict`, JSON.stringify({ instances }))).body;
      const labels = r.predictions.map((p: number) => (rnd() < p ? 1 : 0));
      r.predictions.forEach((p: number, i: number) => pairs[r.versions[i]].push({ p, y: labels[i] }));
      if (req % 2 === 0) feedback.push({ request_id: r.request_id, labels });
      else labels.forEach((y: number, i: number) => feedback.push({ request_id: r.request_id, index: i, label: y }));
    }
    const out = await curl('POST', `${url}/v1/models/srv:feedback`, JSON.stringify({ feedback }));
    expect(out.status, JSON.stringify(out.body)).to.equal(200);
    expect(out.body.accepted).to.equal(400);
    expect(out.body.unmatched).to.deep.equal([]);
    for (const v of [1, 2]) {
      const q = out.body.quality[v];
      expect(q.count, `version ${v}`).to.equal(pairs[v].length);
      expect(pairs[v].length, 'both sides of the split got traffic').to.be.greaterThan(100);
      expect(Math.abs(q.auc - exactAuc(pairs[v])), `version ${v} AUC`).to.be.at.most(q.auc_max_error + 1e-9);
      expect(q.auc_ci95[0]).to.be.below(q.auc);
      expect(q.auc_ci95[1]).to.be.above(q.auc);
      expect(q.logloss).to.be.greaterThan(0);
      expect(q.slices.slicings[0].fields).to.deep.equal(['C1']);
      expect(q.slices.gauc.field).to.equal('user');
      const inSlices = q.slices.slicings[0].top.reduce((n: number, s: { count: number }) => n + s.count, 0) + (q.slices.slicings[0].other?.count ?? 0);
      expect(inSlices, 'every row in one slice').to.equal(q.count);
    }
    const status = (await curl('GET', `${url}/status`)).body.models[0];
    expect(status.feedback.versions['2'].count).to.equal(pairs[2].length);
    const text = await registry.metrics();
    expect(text).to.match(new RegExp(`tessera_serve_feedback_rows\\{model="srv",version="2",label="canary"\\} ${pairs[2].length}`));
    expect(text).to.match(/tessera_serve_feedback_auc\{model="srv",version="1",label="stable"\} 0\.\d+/);
    expect(text).to.match(/tessera_serve_feedback_auc_ci_lower\{model="srv",version="1",label="stable"\} 0\.\d+/);
    expect(text).to.match(/tessera_serve_feedback_logloss\{model="srv",version="2",label="canary"\} 0\.\d+/);
  });

  it('scores feedback that carries its features on the version the split sends it to; lists what it cannot match', async () => {
    const url = server!.rest.url;
    const before = (await curl('GET', `${url}/status`)).body.models[0].feedback;
    const r = (await curl('POST', `${url}/v1/models/srv:predict`, JSON.stringify({ instances: testInstances(2, 77) }))).body;
    const body = {
      feedback: [
        { instance: { ...testInstances(1, 3)[0], user: 'u1' }, label: 1 },
        { instance: { ...testInstances(1, 4)[0], user: 'u2' }, label: 0 },
        { request_id: r.request_id, index: 0, label: 1 },
        { request_id: r.request_id, index: 0, label: 0 },
        { request_id: r.request_id, index: 7, label: 0 },
        { request_id: 'never-seen', index: 0, label: 1 },
      ],
    };
    const out = (await curl('POST', `${url}/v1/models/srv:feedback`, JSON.stringify(body))).body;
    expect(out.accepted).to.equal(3);
    expect(out.unmatched.map((u: { item: number; reason: string }) => `${u.item}: ${u.reason}`)).to.deep.equal([
      '3: row 0 already has a label', '4: index 7 is outside the request\'s 2 rows',
      '5: unknown request id (never answered here, or no longer remembered)',
    ]);
    const after = (await curl('GET', `${url}/status`)).body.models[0].feedback;
    const count = (f: { versions: Record<string, { count: number }> }) => Object.values(f.versions).reduce((n, q) => n + q.count, 0);
    expect(count(after) - count(before)).to.equal(3);
    expect(after.unmatched - before.unmatched).to.equal(3);
  });

  it('refuses malformed feedback naming the item, and an unknown model with 404', async () => {
    const url = server!.rest.url;
    const cases: [unknown, RegExp][] = [
      [{}, /^feedback: must be a non-empty list/],
      [{ feedback: [{ request_id: 'x', index: 0, label: 2 }] }, /^feedback\[0\]\.label: must be 0 or 1 \(clicked or not\), got 2/],
      [{ feedback: [{ request_id: 'x', label: 1 }] }, /^feedback\[0\]\.index: must be the row's index in its request/],
      [{ feedback: [{ label: 1 }] }, /^feedback\[0\]: needs "request_id"/],
      [{ feedback: [{ instance: { I1: 'high' }, label: 1 }] }, /^feedback instances\[0\]\.I1: expected a number or null/],
    ];
    for (const [body, re] of cases) {
      const r = await curl('POST', `${url}/v1/models/srv:feedback`, JSON.stringify(body));
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body.error).to.match(re);
    }
    expect((await curl('POST', `${url}/v1/models/other:feedback`, JSON.stringify({ feedback: [{ request_id: 'x', index: 0, label: 1 }] }))).status).to.equal(404);
  });
});
