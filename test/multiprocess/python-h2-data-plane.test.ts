/**
 * Issue 18: the node:http2 data plane (ADR 0038) speaks gRPC to a real, independent gRPC
 * implementation, Python grpcio, on every data-plane method, both ways:
 * - a Python client (raw bytes, no serializers) calls Pull, Push, PullStream and PushStream on a
 *   PS serving them on node:http2, and gets what the grpc-js plane answers (the same cases run
 *   on both planes): the rows, the updates, the statuses with their details, the in-band stream
 *   errors, and the refusal of a message over the transport's limit;
 * - Tessera's node:http2 client calls the four methods of a Python grpcio server
 *   (test/interop/data_plane_server.py): rows, pushes, a unary status with its tessera-code
 *   trailer, and an in-band stream error after which the stream goes on.
 * Skips without Python grpc (TESSERA_REQUIRE_PYTHON_GRPC=1 makes that a failure).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import {
  decodePullResponse, decodePushResponse, encodePullRequest, encodePushRequest, Encoding,
} from '../../src/wire/data-plane-codec';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { f32FromBytes } from '../../src/wire/key-block';
import { PsConnection } from '../../src/wire/ps-connection';
import { PROTO_ROOT } from '../../src/wire/services';
import { INTEROP_DIR, pythonOrSkip } from '../helpers/python';

const RAW = path.join(INTEROP_DIR, 'raw_requests.py');
const SERVER = path.join(INTEROP_DIR, 'data_plane_server.py');
const PS_PATH = '/tessera.v1.ParameterServer';
const IDS = Buffer.from(new BigUint64Array([1n, 2n]).buffer);
const HALF = Buffer.from(new Float32Array(8).fill(0.5).buffer);

interface Case { method: string; shape: 'unary' | 'bidi'; hex: string[] }
interface Result { method: string; code: string; details: string; responses: string[] }

const pull = (requestId: number, table = 'emb', ids: Uint8Array = IDS) => encodePullRequest({ table, shardMapVersion: 0, ids, encoding: Encoding.F32, requestId });
const push = (requestId: number, table = 'emb') => encodePushRequest({ table, shardMapVersion: 0, ids: IDS, grads: HALF, encoding: Encoding.F32, requestId });
const hex = (b: Buffer) => b.toString('hex');
const valuesOf = (h: string) => [...f32FromBytes(decodePullResponse(Buffer.from(h, 'hex')).values)];

describe('the node:http2 data plane and Python grpcio, every data-plane method (issue 18)', function () {
  this.timeout(60_000);
  let python = '';
  before(function () {
    python = pythonOrSkip(this);
  });

  for (const dataPlane of DATA_PLANES) {
    describe(`a Python client calling a PS whose data plane is ${dataPlane}`, () => {
      let ps: PsServer;
      before(async () => {
        // The PS checks requests above 64 KiB; the transport reads up to 2 × that + 1 MiB.
        ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 16, logger: silentLogger(), dataPlane });
        ps.node.createTable({ name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'constant', value: 0 } });
      });
      after(async () => ps?.stop());

      const run = async (cases: Case[]): Promise<Result[]> => {
        // The cases go on stdin: a 1.4 MB request does not fit a command line.
        const child = spawn(python, [RAW, ps.addr, '-'], { stdio: ['pipe', 'pipe', 'inherit'] });
        let stdout = '';
        child.stdout!.on('data', (c: Buffer) => { stdout += c; });
        child.stdin!.end(JSON.stringify(cases));
        const [code] = await once(child, 'exit') as [number];
        expect(code, 'raw_requests.py exit code').to.equal(0);
        return stdout.trim().split('\n').map((l) => JSON.parse(l) as Result);
      };

      it('answers Pull, Push, PullStream and PushStream with the rows and updates', async () => {
        const [p0, u1, s2, p3] = await run([
          { method: `${PS_PATH}/Pull`, shape: 'unary', hex: [hex(pull(7))] },
          { method: `${PS_PATH}/Push`, shape: 'unary', hex: [hex(push(8))] },
          { method: `${PS_PATH}/PushStream`, shape: 'bidi', hex: [hex(push(1)), hex(push(2))] },
          { method: `${PS_PATH}/PullStream`, shape: 'bidi', hex: [hex(pull(3)), hex(pull(4, 'nope')), hex(pull(5))] },
        ]);
        expect([p0, u1, s2, p3].map((r) => r.code)).to.deep.equal(['OK', 'OK', 'OK', 'OK']);
        expect(valuesOf(p0.responses[0])).to.deep.equal(new Array(8).fill(0));
        expect(decodePullResponse(Buffer.from(p0.responses[0], 'hex'))).to.include({ requestId: 7, dim: 4 });
        expect(decodePushResponse(Buffer.from(u1.responses[0], 'hex'))).to.include({ requestId: 8, rowsApplied: 2 });
        expect(s2.responses.map((h) => decodePushResponse(Buffer.from(h, 'hex'))).map((r) => [r.requestId, r.rowsApplied])).to.deep.equal([[1, 2], [2, 2]]);
        const answers = p3.responses.map((h) => decodePullResponse(Buffer.from(h, 'hex')));
        expect(answers.map((a) => [a.requestId, a.error?.tesseraCode ?? ''])).to.deep.equal([[3, ''], [4, 'TESSERA_ERR_UNKNOWN_TABLE'], [5, '']]);
        expect(valuesOf(p3.responses[2])).to.deep.equal(new Array(8).fill(-1.5)); // three pushes of 0.5, SGD lr 1
      });

      it('ends unary calls with the status and details a grpc-js PS sends, and refuses an oversized message', async () => {
        const [unknown, stale, tooLarge, overLimit] = await run([
          { method: `${PS_PATH}/Pull`, shape: 'unary', hex: [hex(pull(1, 'nope'))] },
          { method: `${PS_PATH}/Push`, shape: 'unary', hex: [hex(encodePushRequest({ table: 'emb', shardMapVersion: 9, ids: IDS, grads: HALF, encoding: Encoding.F32, requestId: 1 }))] },
          { method: `${PS_PATH}/Pull`, shape: 'unary', hex: [hex(pull(1, 'emb', Buffer.alloc(100_000)))] },
          { method: `${PS_PATH}/PushStream`, shape: 'bidi', hex: [hex(pull(1, 'emb', Buffer.alloc(1_400_000)))] },
        ]);
        expect([unknown.code, unknown.details]).to.deep.equal(['NOT_FOUND', 'table "nope" does not exist']);
        expect(stale.code).to.equal('FAILED_PRECONDITION');
        expect(tooLarge.code).to.equal('INVALID_ARGUMENT');
        expect(tooLarge.details).to.match(/65536/);
        expect(overLimit.code).to.equal('RESOURCE_EXHAUSTED');
        expect(overLimit.details).to.match(/larger than max/);
        expect(ps.node.store.has('emb'), 'the PS serves on').to.equal(true);
      });
    });
  }

  describe('Tessera\'s node:http2 client calling a Python grpcio server', () => {
    let server: ChildProcess;
    let stubs = '';
    let conn: PsConnection;
    before(async () => {
      stubs = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-py-dp-'));
      server = spawn(python, [SERVER, PROTO_ROOT, stubs], { stdio: ['pipe', 'pipe', 'inherit'] });
      const [line] = await once(server.stdout!, 'data') as [Buffer];
      const { port } = JSON.parse(line.toString()) as { port: number };
      conn = new PsConnection({ addr: `127.0.0.1:${port}`, maxMessageBytes: 1 << 20, dataPlane: 'http2' });
    });
    after(() => {
      conn?.close();
      server?.stdin?.end();
      if (stubs) fs.rmSync(stubs, { recursive: true, force: true });
    });

    const req = { table: 'emb', shardMapVersion: 0, ids: IDS, encoding: Encoding.F32, requestId: 0 };
    const rowsOf = (values: Uint8Array) => [...f32FromBytes(values)];

    it('pulls and pushes on PullStream, PushStream, Pull and Push', async () => {
      expect(rowsOf((await conn.pull({ ...req }, 5000)).values)).to.deep.equal([1, 0, 0, 0, 2, 0, 0, 0]);
      expect((await conn.push({ ...req, grads: HALF }, 5000)).rowsApplied).to.equal(2);
      expect((await conn.pushUnary({ ...req, grads: HALF }, 5000)).rowsApplied).to.equal(2);
      expect(rowsOf((await conn.pullUnary({ ...req }, 5000)).values)).to.deep.equal([0, -1, -1, -1, 1, -1, -1, -1]);
      const both = await Promise.all([conn.pull({ ...req }, 5000), conn.pull({ ...req }, 5000)]);
      expect(both.map((r) => r.dim)).to.deep.equal([4, 4]);
    });

    it('reads a unary status with its tessera-code, and an in-band stream error after which the stream goes on', async () => {
      const unary = await conn.pullUnary({ ...req, table: 'nope' }, 5000).then(() => null, (e: { code: string; message: string }) => e);
      expect(unary?.code).to.equal('TESSERA_ERR_UNKNOWN_TABLE');
      expect(unary?.message).to.match(/table "nope" does not exist/);
      const streamed = await conn.pull({ ...req, table: 'nope' }, 5000).then(() => null, (e: { code: string }) => e);
      expect(streamed?.code).to.equal('TESSERA_ERR_UNKNOWN_TABLE');
      expect((await conn.pull({ ...req }, 5000)).dim).to.equal(4);
    });
  });
});
