/**
 * Issue 23, item 1: finite gradients must not make non-finite weights. Before the fix a push of
 * 3e38 (or 1e20, three times) was accepted, and an SGD row (lr 1) became -Inf, an FTRL row NaN,
 * which the PS then served to every worker.
 *
 * Over real gRPC (a PS on port 0, unary and streamed pushes), for every optimizer, in f32 and f16
 * storage: each push of a huge gradient for one row, beside a normal gradient for another row,
 * is either applied with every value finite or refused whole (INVALID_ARGUMENT naming the table
 * and the id) with both rows bit-identical; without a clip some push is refused; with the
 * optimizer's `clip_norm` every push applies and the rows stay finite.
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../src/common/logger';
import { TesseraError } from '../../src/common/errors';
import { OPTIMIZER_KINDS } from '../../src/ps/optimizers/registry';
import type { OptimizerConfig } from '../../src/ps/optimizers/optimizer';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { tableSpecToWire } from '../../src/ps/table-spec-wire';
import { Encoding } from '../../src/wire/data-plane-codec';
import { PsConnection } from '../../src/wire/ps-connection';

const DIM = 4;
/** Two rows: index 0 gets a normal gradient, index 1 (id 77) the huge one. */
const IDS = Buffer.from(new BigUint64Array([5n, 77n]).buffer);
const HUGE_ID = '77';

function optimizer(kind: string, clipNorm?: number): OptimizerConfig {
  const own: Record<string, Record<string, number>> = { sgd: { lr: 1 }, adagrad: { lr: 0.5 }, adam: { lr: 0.1 }, ftrl: { alpha: 0.5 } };
  return { kind, ...own[kind], ...(clipNorm === undefined ? {} : { clipNorm }) } as OptimizerConfig;
}

function grads(huge: number): Buffer {
  const g = new Float32Array(2 * DIM).fill(0.01);
  g.fill(huge, DIM);
  return Buffer.from(g.buffer);
}

describe('a push that would make weights non-finite is refused whole; clip_norm clips first (issue 23)', function () {
  this.timeout(30_000);
  let ps: PsServer;
  let conn: PsConnection;

  before(async () => {
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger() });
    conn = new PsConnection({ addr: ps.addr, maxMessageBytes: 1 << 20 });
  });
  after(async () => {
    conn.close();
    await ps.stop();
  });

  async function rows(table: string): Promise<Float32Array> {
    const res = await conn.pull({ table, shardMapVersion: 0, ids: IDS, encoding: Encoding.F32, requestId: 0 }, 5000);
    return new Float32Array(Uint8Array.from(res.values).buffer);
  }

  /** Pushes `huge` for id 77 `times` times (alternating unary and stream); returns the refusals. */
  async function hammer(table: string, huge: number, times: number): Promise<number> {
    let refused = 0;
    for (let i = 0; i < times; i++) {
      const before = await rows(table);
      const req = { table, shardMapVersion: 0, ids: IDS, grads: grads(huge), encoding: Encoding.F32, requestId: 0 };
      const err = await (i % 2 === 0 ? conn.pushUnary(req, 5000) : conn.push(req, 5000)).then(() => null, (e: TesseraError) => e);
      const after = await rows(table);
      if (err) {
        refused++;
        expect(err.code, err.message).to.equal('TESSERA_ERR_NON_FINITE');
        expect(err.message).to.include(`table "${table}"`).and.include(`id ${HUGE_ID}`);
        expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer)), `${table}: rows changed by a refused push`).to.equal(true);
      }
      for (const v of after) expect(Number.isFinite(v), `${table} after push ${i} of ${huge}: ${Array.from(after)}`).to.equal(true);
    }
    return refused;
  }

  for (const weightFormat of ['f32', 'f16'] as const) {
    for (const kind of OPTIMIZER_KINDS) {
      it(`${kind} (${weightFormat}): 3e38 and 1e20 ×3 are refused whole or stay finite; with clip_norm every push applies`, async () => {
        const create = async (name: string, opt: OptimizerConfig) => {
          await conn.adminCall('CreateTable', { spec: tableSpecToWire({ name, kind: 'embedding', dim: DIM, optimizer: opt, weightFormat }) }, 5000);
          return name;
        };
        const plain = await create(`${kind}_${weightFormat}`, optimizer(kind));
        const refused = await hammer(plain, 3e38, 3) + await hammer(plain, 1e20, 3);
        expect(refused, `${kind}: some push refused`).to.be.greaterThan(0);

        const clipped = await create(`${kind}_${weightFormat}_clip`, optimizer(kind, 1));
        expect(await hammer(clipped, 3e38, 3) + await hammer(clipped, 1e20, 3), `${kind} with clip_norm: refusals`).to.equal(0);
      });
    }
  }

  it('a dense table: a push that would overflow is refused and the vector is unchanged', async () => {
    await conn.adminCall('CreateTable', { spec: tableSpecToWire({ name: 'mlp', kind: 'dense', size: 3, optimizer: { kind: 'sgd', lr: 1 } }) }, 5000);
    const pull = async () => Buffer.from((await conn.pullUnary({ table: 'mlp', shardMapVersion: 0, ids: Buffer.alloc(0), encoding: Encoding.F32, requestId: 0 }, 5000)).values);
    const push = () => conn.pushUnary({ table: 'mlp', shardMapVersion: 0, ids: Buffer.alloc(0), grads: Buffer.from(new Float32Array([0.5, 3e38, 0.5]).buffer), encoding: Encoding.F32, requestId: 0 }, 5000);
    await push();
    const before = await pull();
    const err = await push().then(() => null, (e: TesseraError) => e);
    expect(err?.code).to.equal('TESSERA_ERR_NON_FINITE');
    expect(err?.message).to.include('table "mlp"');
    expect((await pull()).equals(before)).to.equal(true);
  });

  it('the refusal is INVALID_ARGUMENT on the wire', async () => {
    await conn.adminCall('CreateTable', { spec: tableSpecToWire({ name: 'wire_sgd', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 } }) }, 5000);
    const client = new grpc.Client(ps.addr, grpc.credentials.createInsecure());
    const { encodePushRequest, decodePushResponse } = await import('../../src/wire/data-plane-codec');
    const send = () => new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/tessera.v1.ParameterServer/Push', (b: Buffer) => b, decodePushResponse,
        encodePushRequest({ table: 'wire_sgd', shardMapVersion: 0, ids: IDS, grads: grads(3e38), encoding: Encoding.F32, requestId: 1 }),
        (err) => resolve(err));
    });
    expect(await send()).to.equal(null);
    expect((await send())?.code).to.equal(grpc.status.INVALID_ARGUMENT);
    client.close();
  });
});
