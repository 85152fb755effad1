/**
 * ADR 0027 from an independent client: Python grpcio with stubs generated from protos/ sends one
 * push twice with the same (client_id, push_seq) — a retry — and then the next push_seq. The PS
 * applies the pair once and acknowledges the repeat with the same rows_applied; a client id
 * above 2^63 reads the same in Python's protobuf and in Tessera's codec. Skips without Python
 * grpc (TESSERA_REQUIRE_PYTHON_GRPC=1 makes that a failure).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { PROTO_ROOT } from '../../src/wire/services';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { INTEROP_DIR, pythonOrSkip } from '../helpers/python';

const SCRIPT = path.join(INTEROP_DIR, 'push_twice.py');
const CLIENT_ID = 0xfedc_ba98_7654_3210n;

// Issue 18: on both data planes (grpc-js, and gRPC framing on node:http2; ADR 0038).
for (const dataPlane of DATA_PLANES) describe(`a Python client retrying a push with the same push_seq (ADR 0027), data plane ${dataPlane}`, function () {
  this.timeout(60_000);
  let python = '';
  let ps: PsServer;
  let stubs = '';

  before(async function () {
    python = pythonOrSkip(this);
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), dataPlane });
    ps.node.createTable({ name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 } });
    stubs = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-py-stubs-'));
  });
  after(async () => {
    await ps?.stop();
    if (stubs) fs.rmSync(stubs, { recursive: true, force: true });
  });

  it('is applied once and acknowledged twice', async () => {
    const { stdout } = await promisify(execFile)(python, [SCRIPT, PROTO_ROOT, stubs, ps.addr, 'emb', CLIENT_ID.toString()]);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).to.deep.equal([
      { push_seq: 1, rows_applied: 2 }, { push_seq: 1, rows_applied: 2 }, { push_seq: 2, rows_applied: 2 },
    ]);
    expect(ps.node.counters.pushes).to.equal(2);
    expect(ps.node.dedup.duplicates).to.equal(1);
    // The window is keyed by the id Python sent, read back bit for bit.
    expect(ps.node.dedup.lookup(CLIENT_ID, 2)).to.equal(2);
  });
});
