/**
 * Issue 13: an independent client, Python grpcio with stubs generated from protos/ by Debian's
 * python3-grpc-tools (protoc 3.5, which refuses proto3 `optional`), creates tables on a PS. The
 * tables get exactly the settings sent, zeros included, and bad settings are refused naming the
 * key. Skips, saying why, when Python's grpc is not installed (scripts/ensure-deps.sh installs
 * it as root); TESSERA_REQUIRE_PYTHON_GRPC=1 makes that a failure.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { normalizeTableSpec, TableSpec } from '../../src/ps/store/table-spec';
import { PROTO_ROOT } from '../../src/wire/services';
import { INTEROP_DIR, pythonOrSkip } from '../helpers/python';

const SCRIPT = path.join(INTEROP_DIR, 'create_tables.py');

/** Tables as a Python user writes them (proto JSON, snake_case), with the spec each means. */
const GOOD: { wire: Record<string, unknown>; spec: TableSpec }[] = [
  {
    wire: {
      name: 'py_adam', kind: 'EMBEDDING', dim: 4, seed: 5, weight_format: 'f16',
      optimizer: { kind: 'adam', params: { lr: 0.001, beta1: 0 } }, initializer: { kind: 'CONSTANT', value: 0 },
      admission: { min_count: 2, sketch_width: 1024 }, eviction: { ttl_steps: 10, max_rows: 65536, spill: false },
    },
    spec: {
      name: 'py_adam', kind: 'embedding', dim: 4, seed: 5, weightFormat: 'f16',
      optimizer: { kind: 'adam', lr: 0.001, beta1: 0 }, initializer: { kind: 'constant', value: 0 },
      admission: { minCount: 2, sketchWidth: 1024 }, eviction: { ttlSteps: 10, maxRows: 65536, spill: false },
    },
  },
  {
    wire: { name: 'py_adagrad', dim: 8, optimizer: { kind: 'adagrad', params: { lr: 0.05, initial_accumulator: 0 } } },
    spec: { name: 'py_adagrad', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05, initialAccumulator: 0 } },
  },
  {
    wire: { name: 'py_ftrl', dim: 2, optimizer: { kind: 'ftrl', params: { alpha: 0.1, l1: 0, initial_accumulator: 0.5 } } },
    spec: { name: 'py_ftrl', kind: 'embedding', dim: 2, optimizer: { kind: 'ftrl', alpha: 0.1, l1: 0, initialAccumulator: 0.5 } },
  },
  {
    wire: { name: 'py_dense', kind: 'DENSE', size: 7, optimizer: { kind: 'sgd', params: { lr: 0.1 } } },
    spec: { name: 'py_dense', kind: 'dense', size: 7, optimizer: { kind: 'sgd', lr: 0.1 } },
  },
];

const BAD: { wire: Record<string, unknown>; details: RegExp }[] = [
  { wire: { name: 'py_width0', dim: 4, optimizer: { kind: 'sgd', params: { lr: 1 } }, admission: { min_count: 2, sketch_width: 0 } }, details: /admission\.sketchWidth must be >= 1024 \(got 0\)/ },
  { wire: { name: 'py_typo', dim: 4, optimizer: { kind: 'adam', params: { lr: 1, beta_1: 0.5 } } }, details: /optimizer\.params\.beta_1 is not a known key/ },
  { wire: { name: 'py_none', dim: 4 }, details: /table "py_none" has no optimizer/ },
];

describe('a Python grpcio client creates tables (issue 13)', function () {
  this.timeout(60_000);
  let python: string | null = null;
  let server: PsServer | undefined;
  let stubs = '';

  before(function () {
    python = pythonOrSkip(this);
  });

  afterEach(async () => {
    await server?.stop();
    if (stubs) fs.rmSync(stubs, { recursive: true, force: true });
  });

  it('with the settings sent, zeros included; bad settings refused naming the key', async () => {
    server = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger() });
    stubs = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-py-'));
    const specs = JSON.stringify([...GOOD, ...BAD].map((c) => c.wire));
    const { stdout } = await promisify(execFile)(python!, [SCRIPT, PROTO_ROOT, stubs, server.addr, specs]);
    const results = new Map(stdout.trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.name, r]));
    for (const c of GOOD) {
      expect(results.get(c.spec.name), c.spec.name).to.deep.equal({ name: c.spec.name, created: true });
      expect(server.node.store.spec(c.spec.name), c.spec.name).to.deep.equal(normalizeTableSpec(c.spec));
    }
    for (const c of BAD) {
      const r = results.get(c.wire.name);
      expect(r.code, String(c.wire.name)).to.equal('INVALID_ARGUMENT');
      expect(r.details).to.match(c.details);
      expect(server.node.store.has(String(c.wire.name))).to.equal(false);
    }
  });
});
