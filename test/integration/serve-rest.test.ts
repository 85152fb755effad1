/**
 * Issue 14, section 2: `tessera serve`'s REST protocols, driven by clients Tessera did not write
 * (curl and Python's urllib). The three request forms (TF Serving instances and inputs, KServe v2
 * infer) give the predictions `tessera eval`'s own code path computes for the same raw rows;
 * metadata, health, status and metrics say what is served.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger';
import { selectBackend } from '../../src/model/backend';
import { ModelServer } from '../../src/serve/model-server';
import { curl, evalPredictions, instanceRow, publishTestModel, pyRequests, pythonAvailable, testInstances } from '../helpers/serve';

describe('tessera serve REST: KServe v2 and TF Serving style, checked with curl and Python urllib (issue 14)', function () {
  this.timeout(60_000);
  let root = '';
  let server: ModelServer | undefined;
  let registry: Registry;
  let v1 = '';
  const python = pythonAvailable();

  before(async () => {
    await selectBackend(silentLogger());
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-rest-'));
    v1 = (await publishTestModel(root, { seed: 1 })).dir;
    registry = new Registry();
    server = await ModelServer.start({ root, host: '127.0.0.1', port: 0, pollMs: 0 }, { logger: silentLogger(), registry });
    await server.registry.rescan();
  });

  after(async () => {
    await server?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('answers TF Serving instances with the predictions tessera eval computes (within 1e-6), in order', async () => {
    const instances = testInstances(50);
    const want = await evalPredictions(v1, instances);
    const r = await curl('POST', `${server!.rest.url}/v1/models/srv:predict`, JSON.stringify({ instances }));
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.predictions).to.have.length(50);
    r.body.predictions.forEach((p: number, i: number) => expect(p, `row ${i}`).to.be.closeTo(want[i], 1e-6));
    expect(r.body.model_version).to.equal('1');
    expect(r.body.versions).to.deep.equal(new Array(50).fill(1));
    expect(r.body.request_id).to.be.a('string');
    expect(new Set(want.map((p) => p.toFixed(4))).size, 'the rows get different predictions').to.be.greaterThan(10);
  });

  it('gives the same predictions for TF Serving columnar inputs and KServe v2 infer (Python urllib)', async function () {
    if (!python) this.skip();
    const instances = testInstances(12, 9);
    const want = await evalPredictions(v1, instances);
    const fields = ['I1', 'I2', 'C1', 'C2', 'C3'];
    const column = (f: string) => instances.map((x) => (x[f] === undefined ? null : x[f]));
    const v2 = {
      id: 'req-7',
      inputs: fields.map((f) => ({ name: f, shape: [12], datatype: f.startsWith('I') ? 'INT64' : 'BYTES', data: column(f) })),
    };
    const [tf, kserve] = await pyRequests(python!, server!.rest.url, [
      { method: 'POST', path: '/v1/models/srv/versions/1:predict', json: { inputs: Object.fromEntries(fields.map((f) => [f, column(f)])) } },
      { method: 'POST', path: '/v2/models/srv/versions/1/infer', json: v2 },
    ]);
    expect(tf.status, JSON.stringify(tf.body)).to.equal(200);
    expect(kserve.status, JSON.stringify(kserve.body)).to.equal(200);
    const out = kserve.body.outputs.find((o: { name: string }) => o.name === 'probability');
    expect(kserve.body).to.include({ model_name: 'srv', model_version: '1', id: 'req-7' });
    expect(out).to.include({ datatype: 'FP32' });
    expect(out.shape).to.deep.equal([12]);
    for (let i = 0; i < 12; i++) {
      expect(tf.body.predictions[i], `inputs row ${i}`).to.be.closeTo(want[i], 1e-6);
      expect(out.data[i], `v2 row ${i}`).to.be.closeTo(want[i], 1e-6);
    }
  });

  it('coalesces concurrent requests into one forward; each gets its own rows\' answers, and a bad call fails alone', async () => {
    const v = server!.registry.model('srv').resolve({});
    const calls = Array.from({ length: 8 }, (_, k) => testInstances(1 + k, 100 + k));
    const alone = await Promise.all(calls.map((c) => evalPredictions(v1, c)));
    const broken = { label: 0, numeric: [1], categorical: [] }; // a row of the wrong shape
    const together = await Promise.allSettled([
      ...calls.map((c) => v.predict(c.map(instanceRow))),
      v.predict([broken]),
    ]);
    calls.forEach((_, k) => {
      const r = together[k];
      expect(r.status, `call ${k}`).to.equal('fulfilled');
      Array.from((r as PromiseFulfilledResult<Float32Array>).value).forEach((p, i) => expect(p, `call ${k} row ${i}`).to.be.closeTo(alone[k][i], 1e-6));
    });
    expect(together[8].status).to.equal('rejected');
    expect(String((together[8] as PromiseRejectedResult).reason.message)).to.match(/row 0: expected 13 numeric and 26 categorical values/);
  });

  it('reports health, model metadata (versions, inputs, spec fingerprint) and version status', async () => {
    const url = server!.rest.url;
    expect((await curl('GET', `${url}/v2/health/live`)).status).to.equal(200);
    expect(await curl('GET', `${url}/v2/health/ready`)).to.deep.equal({ status: 200, body: { ready: true } });
    const meta = await curl('GET', `${url}/v2/models/srv`);
    const manifest = JSON.parse(fs.readFileSync(path.join(v1, 'model.json'), 'utf8'));
    expect(meta.body).to.include({ name: 'srv', platform: 'tessera', spec_fingerprint: manifest.specFingerprint, model_kind: 'deepfm' });
    expect(meta.body.versions).to.deep.equal(['1']);
    expect(meta.body.inputs.map((i: { name: string; datatype: string }) => `${i.name}:${i.datatype}`)).to.deep.equal(['I1:FP64', 'I2:FP64', 'C1:BYTES', 'C2:BYTES', 'C3:BYTES']);
    expect((await curl('GET', `${url}/v2/models/srv/versions/1`)).body.versions).to.deep.equal(['1']);
    expect((await curl('GET', `${url}/v2/models/srv/versions/1/ready`)).status).to.equal(200);
    expect((await curl('GET', `${url}/v1/models/srv`)).body).to.deep.equal({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
  });

  it('shows versions, load times and traffic in /status and in the metrics', async () => {
    const s = (await curl('GET', `${server!.rest.url}/status`)).body;
    expect(s).to.include({ ready: true, root, policy: 'latest' });
    const m = s.models[0];
    expect(m).to.include({ name: 'srv', default_version: 1 });
    expect(m.versions[0]).to.include({ version: 1, state: 'AVAILABLE', default: true, step: 1, samples: 100 });
    expect(m.versions[0].load_seconds).to.be.greaterThan(0);
    expect(m.versions[0].traffic.requests).to.be.greaterThan(0);
    expect(m.versions[0].rows).to.deep.equal({ resident: 120, disk: 0, reloads: 0, overlay: 0 });
    const text = await registry.metrics();
    expect(text).to.match(/tessera_serve_requests_total\{model="srv",version="1",label="",protocol="rest",code="200"\} \d+/);
    expect(text).to.match(/tessera_serve_request_seconds_count\{model="srv",version="1",label=""\} \d+/);
    expect(text).to.match(/tessera_serve_batch_size_bucket\{le="64",model="srv",version="1",label=""\} \d+/);
    expect(text).to.match(/tessera_serve_version_load_seconds\{model="srv",version="1"\} [\d.e-]+/);
    expect(text).to.match(/tessera_serve_version_age_seconds\{model="srv",version="1",label=""\} [\d.e-]+/);
    expect(text).to.match(/tessera_serve_rows\{model="srv",version="1",tier="resident"\} 120/);
    expect(text).to.match(/tessera_serve_ready 1/);
  });
});
