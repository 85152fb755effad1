/**
 * Issue 14: `tessera.v1.Prediction` over gRPC, driven by Python grpcio with stubs generated from
 * protos/ by Debian's grpc_tools (protoc 3.5). A columnar batch of packed float64 and strings gets
 * the predictions `tessera eval` computes; health says SERVING; every bad input gets its status
 * naming the column and row, and the server keeps serving. Skips, saying why, without Python's
 * grpc (scripts/ensure-deps.sh installs it as root); TESSERA_REQUIRE_PYTHON_GRPC=1 fails instead.
 */
import { execFile, spawnSync } from 'node:child_process';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger';
import { selectBackend } from '../../src/model/backend';
import { ModelServer } from '../../src/serve/model-server';
import { PROTO_ROOT } from '../../src/wire/services';
import { evalPredictions, publishTestModel, testInstances } from '../helpers/serve';

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'test', 'interop', 'predict_client.py');
const SKIP_MESSAGE = 'Python grpc not installed: apt-get install -y python3-grpcio python3-grpc-tools';
const FIELDS = ['I1', 'I2', 'C1', 'C2', 'C3'];

function findPython(): string | null {
  for (const py of [process.env.TESSERA_PYTHON, 'python3', '/usr/bin/python3']) {
    if (py && spawnSync(py, ['-c', 'import grpc, grpc_tools'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

/** The request columns of `instances`, as the Python client takes them. */
function columns(instances: Record<string, string | number | null>[], fields = FIELDS): Record<string, unknown>[] {
  return fields.map((f) => ({ name: f, [f.startsWith('I') ? 'numeric' : 'categorical']: instances.map((x) => (x[f] === undefined ? null : x[f])) }));
}

describe('tessera serve gRPC: tessera.v1.Prediction from a Python grpcio client (issue 14)', function () {
  this.timeout(60_000);
  let python: string | null = null;
  let root = '';
  let stubs = '';
  let server: ModelServer | undefined;
  let addr = '';

  before(async function () {
    python = findPython();
    if (!python) {
      if (process.env.TESSERA_REQUIRE_PYTHON_GRPC === '1') throw new Error(`TESSERA_REQUIRE_PYTHON_GRPC=1 but ${SKIP_MESSAGE}`);
      console.warn(`  skipping: ${SKIP_MESSAGE}`); // eslint-disable-line no-console
      this.skip();
    }
    await selectBackend(silentLogger());
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-grpc-'));
    stubs = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-py-stubs-'));
    await publishTestModel(root, { seed: 1 });
    server = await ModelServer.start({ root, host: '127.0.0.1', port: 0, pollMs: 0, maxBodyBytes: 64 << 10 }, { logger: silentLogger(), registry: new Registry() });
    await server.registry.rescan();
    addr = (await server.startGrpc('127.0.0.1', 0)).addr;
  });

  after(async () => {
    await server?.close();
    for (const d of [root, stubs]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  async function call(requests: Record<string, unknown>[]): Promise<any[]> {
    const p = promisify(execFile)(python!, [SCRIPT, PROTO_ROOT, stubs, addr], { maxBuffer: 64 << 20 });
    p.child.stdin!.end(JSON.stringify(requests));
    const { stdout } = await p;
    return stdout.trim().split('\n').map((l) => JSON.parse(l));
  }

  it('predicts a columnar batch exactly as tessera eval does; health says SERVING', async () => {
    const instances = testInstances(40, 21);
    const want = await evalPredictions(path.join(root, 'srv', '1'), instances);
    const [health, r] = await call([{ health: true }, { model: 'srv', rows: 40, columns: columns(instances), request_id: 'g-1' }]);
    expect(health).to.deep.equal({ code: 'OK', status: 'SERVING' });
    expect(r.code, r.details).to.equal('OK');
    expect(r).to.include({ model: 'srv', request_id: 'g-1' });
    expect(r.versions).to.deep.equal(new Array(40).fill(1));
    r.probabilities.forEach((p: number, i: number) => expect(p, `row ${i}`).to.be.closeTo(want[i], 1e-6));
  });

  it('answers every bad input with its status, naming the column and row, and keeps serving', async () => {
    const two = testInstances(2);
    const good = { model: 'srv', rows: 2, columns: columns(two) };
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ['unknown model', { ...good, model: 'nope' }, 'NOT_FOUND', /model "nope" is not served here; models: srv/],
      ['unknown version', { ...good, version: 5 }, 'NOT_FOUND', /version 5 of model srv does not exist/],
      ['unknown label', { ...good, label: 'canary' }, 'NOT_FOUND', /label canary is not set for model srv/],
      ['NaN', { ...good, columns: [{ name: 'I1', numeric: [1, '__NaN__'] }] }, 'INVALID_ARGUMENT', /^columns\[0\] \(I1\)\[1\]: NaN is not a value Tessera accepts/],
      ['numbers for a categorical field', { ...good, columns: [{ name: 'C1', numeric: [1, 2] }] }, 'INVALID_ARGUMENT', /^columns\[0\] \(C1\)\[0\]: expected a string or null \(got number 1\)/],
      ['strings for a numeric field', { ...good, columns: [{ name: 'I2', categorical: ['1', '2'] }] }, 'INVALID_ARGUMENT', /^columns\[0\] \(I2\)\[0\]: expected a number or null \(got string "1"\)/],
      ['short column', { ...good, columns: [{ name: 'C2', categorical: ['a'] }] }, 'INVALID_ARGUMENT', /^columns\[0\]: 1 categorical values for 2 rows/],
      ['unknown field', { ...good, columns: [{ name: 'C7', categorical: ['a', 'b'] }] }, 'INVALID_ARGUMENT', /^columns\[0\] \(C7\)\[0\]: "C7" is not a field of job srv/],
      ['no rows', { ...good, rows: 0 }, 'INVALID_ARGUMENT', /^rows: must be at least 1/],
      ['over the size limit', { ...good, rows: 5000, columns: [{ name: 'C1', categorical: new Array(5000).fill('x'.repeat(20)) }] }, 'RESOURCE_EXHAUSTED', /.*/],
    ];
    const answers = await call([...cases.map(([, r]) => r), good]);
    cases.forEach(([what, , code, re], i) => {
      expect(answers[i].code, what).to.equal(code);
      expect(answers[i].details, what).to.match(re);
      if (code !== 'RESOURCE_EXHAUSTED') expect(answers[i].tessera_code, what).to.match(/^TESSERA_ERR_/);
    });
    expect(answers[cases.length].code, 'a good request after the bad ones').to.equal('OK');
  });
});
