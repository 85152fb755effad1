/**
 * Issue #16 §4: an independent client, Python grpcio (Debian's python3-grpcio), against a PS that
 * requires mutual TLS. It is refused without a certificate, with a certificate from another CA,
 * and with a worker certificate calling DropTable (PERMISSION_DENIED naming the role and the
 * method); the table survives all three, and a chief certificate may drop it. Skips like the
 * other Python tests when grpcio is absent (TESSERA_REQUIRE_PYTHON_GRPC=1: a failure).
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
import { INTEROP_DIR, pythonOrSkip } from '../helpers/python';
import { createTestCa, TestCa } from '../helpers/tls';

const SCRIPT = path.join(INTEROP_DIR, 'tls_refusals.py');

describe('a Python grpcio client against a PS with mutual TLS (issue #16)', function () {
  this.timeout(60_000);
  let python: string;
  let ca: TestCa;
  let other: TestCa;
  let server: PsServer | undefined;
  let stubs = '';

  before(async function () {
    python = pythonOrSkip(this);
    ca = await createTestCa('ctr');
    other = await createTestCa('ctr');
  });
  after(async () => {
    await server?.stop();
    if (stubs) fs.rmSync(stubs, { recursive: true, force: true });
    ca?.remove();
    other?.remove();
  });

  it('is refused without a certificate, with another CA\'s, and as a worker calling DropTable', async () => {
    server = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), tls: ca.open(await ca.issue('ps', 'ps-0')) });
    server.node.createTable({ name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 } });
    stubs = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-py-tls-'));
    const worker = await ca.issue('worker', 'w-0');
    const foreign = await other.issue('worker', 'w-0');
    const chief = await ca.issue('chief', 'c-0');
    const cases = [
      { case: 'no certificate', ca: ca.ca, cert: null, key: null },
      { case: 'another CA', ca: ca.ca, cert: foreign.cert, key: foreign.key },
      { case: 'worker calls DropTable', ca: ca.ca, cert: worker.cert, key: worker.key },
    ];
    const run = async (list: object[]) => {
      const { stdout } = await promisify(execFile)(python, [SCRIPT, PROTO_ROOT, stubs, server!.addr, JSON.stringify(list)]);
      return new Map(stdout.trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.case, r]));
    };
    const results = await run(cases);
    expect(results.get('no certificate').code).to.equal('UNAVAILABLE');
    expect(results.get('another CA').code).to.equal('UNAVAILABLE');
    expect(results.get('worker calls DropTable')).to.deep.include({ code: 'PERMISSION_DENIED' });
    expect(results.get('worker calls DropTable').details).to.match(/role "worker" may not call DropTable/);
    expect(server.node.store.has('emb'), 'the table survives the refused calls').to.equal(true);
    const allowed = await run([{ case: 'chief calls DropTable', ca: ca.ca, cert: chief.cert, key: chief.key }]);
    expect(allowed.get('chief calls DropTable').code).to.equal('OK');
    expect(server.node.store.has('emb')).to.equal(false);
  });
});
