/**
 * Issue 23, items 5, 6 and 7, from an independent client: Python grpcio with no serializers, so
 * each request is exactly the bytes the test gives, and no call has a deadline (the mocha timeout
 * is the guard). Before the fix an undecodable request got INTERNAL ("Error deserializing
 * request") and ended a whole PullStream/PushStream, and ExportTable of an unknown table never
 * answered.
 *
 * Now: every PS method answers undecodable bytes with INVALID_ARGUMENT; a stream answers a bad
 * message with an in-band INVALID_ARGUMENT (under its request id when that could be read, else
 * request id 0) and goes on answering the valid ones around it; ExportTable of an unknown table
 * is NOT_FOUND. Skips without Python grpc (TESSERA_REQUIRE_PYTHON_GRPC=1 makes that a failure).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import {
  decodePullResponse, decodePushResponse, encodePullRequest, encodePushRequest, Encoding,
} from '../../src/wire/data-plane-codec';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { INTEROP_DIR, pythonOrSkip } from '../helpers/python';

const SCRIPT = path.join(INTEROP_DIR, 'raw_requests.py');
const IDS = Buffer.from(new BigUint64Array([1n, 2n]).buffer);
/** Field 1, a varint cut short: no protobuf decoder accepts it, whatever field 1 is. */
const GARBAGE = Buffer.from([0x08, 0xff]);

interface Case { method: string; shape: 'unary' | 'server_stream' | 'bidi'; hex: string[] }
interface Result { method: string; code: string; details: string; responses: string[] }

const pull = (requestId: number) => encodePullRequest({ table: 'emb', shardMapVersion: 0, ids: IDS, encoding: Encoding.F32, requestId });
const push = (requestId: number) => encodePushRequest({
  table: 'emb', shardMapVersion: 0, ids: IDS, grads: Buffer.from(new Float32Array(8).fill(0.5).buffer), encoding: Encoding.F32, requestId,
});
/** A valid request cut short inside its ids: the request id (written before the ids) still reads. */
const truncated = (b: Buffer) => b.subarray(0, b.length - 3);

const ADMIN = ['CreateTable', 'DropTable', 'SetShardMap', 'AssignDense', 'Snapshot', 'SnapshotStatus', 'Restore', 'Stats'];

// Issue 18: every case runs on both data planes (grpc-js, and gRPC framing on node:http2; ADR 0038).
for (const dataPlane of DATA_PLANES) describe(`undecodable requests from a Python client: INVALID_ARGUMENT, streams go on (issue 23), data plane ${dataPlane}`, function () {
  this.timeout(60_000);
  let python = '';
  let ps: PsServer;

  before(async function () {
    python = pythonOrSkip(this);
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), dataPlane });
    ps.node.createTable({ name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 } });
  });
  after(async () => {
    await ps?.stop();
  });

  async function run(cases: Case[]): Promise<Result[]> {
    const { stdout } = await promisify(execFile)(python, [SCRIPT, ps.addr, JSON.stringify(cases)]);
    return stdout.trim().split('\n').map((l) => JSON.parse(l) as Result);
  }

  it('every unary and server-streaming method answers INVALID_ARGUMENT, naming the request, and the PS serves on', async () => {
    const cases: Case[] = [
      ...['Pull', 'Push'].map((m) => ({ method: `/tessera.v1.ParameterServer/${m}`, shape: 'unary' as const, hex: [GARBAGE.toString('hex')] })),
      ...ADMIN.map((m) => ({ method: `/tessera.v1.PsAdmin/${m}`, shape: 'unary' as const, hex: [GARBAGE.toString('hex')] })),
      { method: '/tessera.v1.PsAdmin/ExportTable', shape: 'server_stream', hex: [GARBAGE.toString('hex')] },
      { method: '/grpc.health.v1.Health/Check', shape: 'unary', hex: [GARBAGE.toString('hex')] },
      { method: '/tessera.v1.ParameterServer/Pull', shape: 'unary', hex: [truncated(pull(9)).toString('hex')] },
    ];
    const results = await run(cases);
    expect(results.map((r) => r.method)).to.deep.equal(cases.map((c) => c.method));
    for (const r of results) {
      expect(r.code, `${r.method}: ${r.details}`).to.equal('INVALID_ARGUMENT');
      expect(r.details, r.method).to.match(/malformed|not a valid/);
    }
    expect(ps.node.store.list().map((t) => t.name)).to.deep.equal(['emb']);
  });

  it('ExportTable of an unknown table is NOT_FOUND (the client has no deadline)', async () => {
    const [r] = await run([{ method: '/tessera.v1.PsAdmin/ExportTable', shape: 'server_stream', hex: ['0a046e6f7065'] }]);
    expect(r.code).to.equal('NOT_FOUND');
    expect(r.details).to.include('"nope"');
  });

  for (const [name, encode, decode] of [['PullStream', pull, decodePullResponse], ['PushStream', push, decodePushResponse]] as const) {
    it(`${name}: a bad message gets an in-band INVALID_ARGUMENT and the stream answers every valid one`, async () => {
      const requests = [encode(1), truncated(encode(2)), encode(3), GARBAGE, encode(5)];
      const [r] = await run([{ method: `/tessera.v1.ParameterServer/${name}`, shape: 'bidi', hex: requests.map((b) => b.toString('hex')) }]);
      expect(r.code, r.details).to.equal('OK');
      const answers = r.responses.map((h) => decode(Buffer.from(h, 'hex')));
      expect(answers.map((a) => [a.requestId, a.error?.code ?? 0]), JSON.stringify(answers.map((a) => a.error))).to.deep.equal([[1, 0], [2, 3], [3, 0], [0, 3], [5, 0]]);
      expect(answers[1].error?.tesseraCode).to.equal('TESSERA_ERR_INVALID_ARGUMENT');
    });
  }
});
