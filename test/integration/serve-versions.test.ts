/**
 * Issue 14, section 2: hot update, labels and the canary split, in one process. A version
 * published while the server runs is picked up by the root watcher (a file-system event), loaded
 * and swapped in; a request in flight during the swap ends on the version it started on, which is
 * released only then. Labels in labels.json route requests and survive a restart; the split sends
 * each user to one side, the same one on every request and every server.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger';
import { writeLabels } from '../../src/export/model-labels';
import { selectBackend } from '../../src/model/backend';
import { ModelServer, ModelServerOptions } from '../../src/serve/model-server';
import { parseSplit } from '../../src/serve/traffic-split';
import { createLogSink } from '../helpers/log-sink';
import { curl, evalPredictions, instanceRow, publishTestModel, testInstances } from '../helpers/serve';

describe('tessera serve: hot update, labels and the canary split (issue 14)', function () {
  this.timeout(60_000);
  let root = '';
  const servers: ModelServer[] = [];
  const instances = testInstances(6);

  async function start(o: Partial<ModelServerOptions> = {}, logger = silentLogger()): Promise<ModelServer> {
    const s = await ModelServer.start({ root, host: '127.0.0.1', port: 0, pollMs: 0, ...o }, { logger, registry: new Registry() });
    servers.push(s);
    await s.registry.rescan();
    return s;
  }

  async function predict(s: ModelServer, p = ':predict', body: unknown = { instances }): Promise<any> {
    const r = await curl('POST', `${s.rest.url}/v1/models/srv${p}`, JSON.stringify(body));
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body;
  }

  before(() => selectBackend(silentLogger()));
  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-versions-'));
    await publishTestModel(root, { seed: 1 });
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('picks up a version published while serving (file-system event), swaps it in and unloads the old one', async () => {
    const sink = createLogSink('info');
    // A poll far longer than the test: only the watch can bring the new version in.
    const s = await start({ pollMs: 600_000 }, sink.logger);
    expect((await predict(s)).model_version).to.equal('1');
    const v2 = await publishTestModel(root, { seed: 2 });
    await sink.waitFor((l) => l.msg === 'version loaded' && l.version === 2);
    await sink.waitFor((l) => l.msg === 'version unloaded' && l.version === 1);
    const r = await predict(s);
    expect(r.model_version).to.equal('2');
    const want = await evalPredictions(v2.dir, instances);
    r.predictions.forEach((p: number, i: number) => expect(p).to.be.closeTo(want[i], 1e-6));
  });

  it('a request in flight when its version is swapped out ends on that version, which is released only then', async () => {
    const tiers = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-swap-'));
    try {
      // Bigger than the budget: each version gets a disk tier of its own.
      const v2 = await publishTestModel(root, { seed: 2, values: 20_000 });
      const s = await start({ maxResidentBytes: 1 << 20, tierDir: tiers, pollMs: 0 });
      const want2 = await evalPredictions(v2.dir, instances);
      const started = s.registry.model('srv').resolve({}).hold(); // what a request does before its first await
      await publishTestModel(root, { seed: 3, values: 20_000 });
      await s.registry.rescan(); // loads 3 and retires 2 while the request holds it
      expect(s.status().models[0].versions.map((v) => v.version)).to.deep.equal([3]);
      expect([started.version, started.isRetired, started.inFlight]).to.deep.equal([2, true, 1]);
      expect((await predict(s)).model_version, 'new requests reach the new version').to.equal('3');
      const probs = await started.predict(instances.map((x) => instanceRow(x)));
      Array.from(probs).forEach((p, i) => expect(p, 'the held version still answers as itself').to.be.closeTo(want2[i], 1e-6));
      expect(fs.readdirSync(tiers), 'both tiers exist while version 2 is held').to.have.length(2);
      started.unhold();
      await started.released;
      expect(fs.readdirSync(tiers), 'version 2 released when its last request ended').to.have.length(1);
      const r = await s.service.predict({ model: 'srv', target: {}, decode: (d) => d.fromInstances(instances) });
      expect([...new Set(r.versions)]).to.deep.equal([3]);
      expect(s.registry.model('srv').get(3)!.inFlight, 'the service holds a version only while it answers').to.equal(0);
    } finally {
      fs.rmSync(tiers, { recursive: true, force: true });
    }
  });

  it('routes by label; a rollback (stable → 1) takes effect at once, loads the older version under latest, and survives a restart', async () => {
    await publishTestModel(root, { seed: 2 });
    const s = await start();
    expect((await predict(s)).model_version).to.equal('2');
    await writeLabels(root, 'srv', { stable: 1, canary: 2 });
    await s.registry.rescan();
    const st = s.status().models[0];
    expect(st.versions.map((v) => `${v.version}:${v.labels.join('+')}${v.default ? ':default' : ''}`)).to.deep.equal(['1:stable:default', '2:canary']);
    expect((await predict(s)).model_version).to.equal('1');
    expect((await predict(s, '/labels/canary:predict')).model_version).to.equal('2');
    expect((await predict(s, '/labels/stable:predict')).model_version).to.equal('1');
    expect((await curl('GET', `${s.rest.url}/v1/models/srv/labels/canary`)).body.model_version_status[0].version).to.equal('2');
    const restarted = await start();
    expect((await predict(restarted)).model_version, 'a restarted server keeps the rollback').to.equal('1');
    await writeLabels(root, 'srv', { stable: 7 });
    await restarted.registry.rescan();
    expect((await predict(restarted)).model_version, 'a label naming a version not on disk falls back to the newest').to.equal('2');
    const r = await curl('POST', `${restarted.rest.url}/v1/models/srv/labels/stable:predict`, JSON.stringify({ instances }));
    expect(r.status).to.equal(404);
    expect(r.body.error).to.match(/label stable of model srv names version 7, which is not loaded; loaded versions: 2/);
  });

  it('splits by a stable hash of the key: one user, one version, on every request and every server', async () => {
    const v2 = await publishTestModel(root, { seed: 2 });
    await writeLabels(root, 'srv', { stable: 1, canary: 2 });
    const split = parseSplit('stable=50,canary=50');
    const a = await start({ split, splitKey: 'user' });
    const b = await start({ split, splitKey: 'user' });
    const users = testInstances(200, 3).map((x, i) => ({ ...x, user: `u${i}` }));
    const first = await predict(a, ':predict', { instances: users });
    const canary = first.versions.filter((v: number) => v === 2).length;
    expect(canary, 'about half the users on the canary').to.be.within(70, 130);
    const want = { 1: await evalPredictions(path.join(root, 'srv', '1'), users), 2: await evalPredictions(v2.dir, users) } as Record<number, number[]>;
    first.predictions.forEach((p: number, i: number) => expect(p, `user ${i}`).to.be.closeTo(want[first.versions[i]][i], 1e-6));
    const shuffled = [...users].reverse();
    const again = await predict(b, ':predict', { instances: shuffled });
    expect(again.versions.reverse(), 'same user, same version, on another server').to.deep.equal(first.versions);
    const byRequest = await predict(a, ':predict', { instances: users.map(({ user, ...x }) => ({ ...x, uid: user })), split_key: 'uid' });
    expect(byRequest.versions, 'a split key named in the request').to.deep.equal(first.versions);
    const noKey = await predict(a, ':predict', { instances });
    expect(noKey.versions, 'rows without a key go to the default (stable)').to.deep.equal(new Array(instances.length).fill(1));
    const traffic = a.status().models[0].versions.map((v) => v.traffic.rows);
    expect(traffic[0] + traffic[1]).to.equal(2 * users.length + instances.length);
    await writeLabels(root, 'srv', { stable: 1 });
    await a.registry.rescan();
    expect((await predict(a, ':predict', { instances: users })).versions, 'no canary label: everyone on stable').to.deep.equal(new Array(200).fill(1));
  });
});
