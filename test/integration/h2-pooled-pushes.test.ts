/**
 * Issue 18 (ADR 0045, amendment 4): the node:http2 PS reads push requests into reused buffers.
 * A push answered at once gives its buffer back for the next push, so nothing may keep a view of
 * it; a push held by a cut (ADR 0040) keeps its buffer until the cut applies it. Pushes here are
 * 1,000 rows (about 40 KiB), above the pool's smallest buffer, so each one after the first is
 * read into the buffer of the one before, unary and streamed. The unary held push also covers a
 * second fault this file found: the server ended a held unary push UNIMPLEMENTED ("Received
 * no request message") when its request stream ended before the cut applied it.
 */
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import type { PrepareCutResponse } from '../../src/client/admin-messages';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { Encoding, PushRequestMsg, PushResponseMsg } from '../../src/wire/data-plane-codec';
import { f32FromBytes } from '../../src/wire/key-block';
import { PsConnection } from '../../src/wire/ps-connection';
import type { StepTag } from '../../src/wire/step-tag';

const ROWS = 1000;
const DIM = 8;
const A = 0xaaaa_0000_0000_0001n;
const B = 0xbbbb_0000_0000_0002n;

const idsFrom = (first: number): Buffer => Buffer.from(BigUint64Array.from({ length: ROWS }, (_, i) => BigInt(first + i)).buffer);
const grads = (value: number): Buffer => Buffer.from(new Float32Array(ROWS * DIM).fill(value).buffer);
/** A worker's positions: 48 bytes of its own. */
const positionsOf = (client: bigint): Uint8Array => new TextEncoder().encode(`positions of ${client.toString(16)}`.padEnd(48, '.'));
const stepTag = (client: bigint, step: number): StepTag => ({ client, step, parts: 1, ackedThrough: step - 1, positions: positionsOf(client) });

describe('pooled push requests on the node:http2 PS (issue 18)', function () {
  this.timeout(20_000);
  let s: PsServer | undefined;
  let c: PsConnection | undefined;
  const closers: Array<() => void> = [];
  afterEach(async () => {
    closers.splice(0).forEach((close) => close());
    c?.close();
    await s?.stop();
  });

  async function start(): Promise<{ s: PsServer; c: PsConnection }> {
    s = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), dataPlane: 'http2' });
    for (const name of ['held', 'fill']) {
      s.node.createTable({ name, kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'constant', value: 0 } });
    }
    c = new PsConnection({ addr: s.addr, maxMessageBytes: 1 << 20, dataPlane: 'http2' });
    return { s, c };
  }

  /** Each worker's highest step applied and its positions, as the chief's round 1 reads them. */
  async function prepared(conn: PsConnection, cutId: string): Promise<Map<bigint, { step: number; positions: string }>> {
    const res = await conn.adminCall<PrepareCutResponse>('PrepareCut', { cutId, holdMs: 10_000 }, 5000);
    return new Map(res.steps.map((w) => [w.stepClient.readBigUInt64LE(0), { step: w.step, positions: Buffer.from(w.positions ?? []).toString() }]));
  }

  for (const how of ['unary', 'streamed'] as const) {
    const send = (conn: PsConnection, req: Omit<PushRequestMsg, 'requestId' | 'shardMapVersion' | 'encoding'>): Promise<PushResponseMsg> => {
      const full = { ...req, requestId: 0, shardMapVersion: 0, encoding: Encoding.F32 };
      return how === 'unary' ? conn.pushUnary(full, 5000) : conn.push(full, 5000);
    };

    it(`each worker's step keeps its own positions when the next push reuses its request buffer, ${how}`, async () => {
      const { c } = await start();
      await send(c, { table: 'fill', ids: idsFrom(1), grads: grads(1), stepTag: stepTag(A, 1) });
      // B's request is read into A's buffer, the same layout: A's positions, were they a view
      // of it, would read B's.
      await send(c, { table: 'fill', ids: idsFrom(1), grads: grads(1), stepTag: stepTag(B, 1) });
      const steps = await prepared(c, 'cut-1');
      await c.adminCall('ReleaseCut', { cutId: 'cut-1', reason: 'test' }, 5000);
      expect(steps.get(A)).to.deep.equal({ step: 1, positions: Buffer.from(positionsOf(A)).toString() });
      expect(steps.get(B)).to.deep.equal({ step: 1, positions: Buffer.from(positionsOf(B)).toString() });
    });

    it(`a push held by a cut applies its own gradients and positions after other pushes refilled the pool, ${how}`, async () => {
      const { s, c } = await start();
      // The other pushes come on a connection of their own: a stream answers in request order, so
      // on the held push's stream they would be applied but not answered before it.
      const other = new PsConnection({ addr: s.addr, maxMessageBytes: 1 << 20, dataPlane: 'http2' });
      closers.push(() => other.close());
      await prepared(c, 'cut-2');
      const held = send(c, { table: 'held', ids: idsFrom(1), grads: grads(0.5), stepTag: stepTag(A, 1) });
      // Untagged pushes pass the hold and cycle through the pool's buffers meanwhile.
      for (let k = 0; k < 8; k++) await send(other, { table: 'fill', ids: idsFrom(1 + k), grads: grads(k + 2) });
      expect(s.node.counters.pushes, 'the tagged push is still held').to.equal(8);
      expect(await c.adminCall<{ released: boolean }>('ReleaseCut', { cutId: 'cut-2', reason: 'test' }, 5000)).to.deep.equal({ released: true });
      expect((await held).rowsApplied).to.equal(ROWS);
      const rows = f32FromBytes((await c.pull({ table: 'held', shardMapVersion: 0, ids: idsFrom(1), encoding: Encoding.F32, requestId: 0 }, 5000)).values);
      expect(rows.every((v) => v === -0.5), 'every held row moved by its own gradient, 0.5 at lr 1').to.equal(true);
      const steps = await prepared(c, 'cut-3');
      await c.adminCall('ReleaseCut', { cutId: 'cut-3', reason: 'test' }, 5000);
      expect(steps.get(A)).to.deep.equal({ step: 1, positions: Buffer.from(positionsOf(A)).toString() });
    });
  }
});
