/**
 * Issue 18: reused receive buffers of the node:http2 client (src/wire/answer-pool.ts).
 */
import { expect } from 'chai';
import { AnswerPool } from '../../../src/wire/answer-pool';

describe('AnswerPool (issue 18)', () => {
  it('places every buffer 5 bytes into its ArrayBuffer, as grpc-js places a received message', () => {
    const pool = new AnswerPool();
    for (const n of [0, 10, 300_000]) {
      const b = pool.take(n);
      expect([b.length, b.byteOffset]).to.deep.equal([n, 5]);
    }
  });

  it('reuses a large buffer given back, for an answer of another size that fits', () => {
    const pool = new AnswerPool();
    const first = pool.take(300_000);
    pool.give(first);
    const second = pool.take(280_000);
    expect(second.buffer).to.equal(first.buffer);
    expect(pool.take(280_000).buffer, 'a buffer in use is not handed out twice').to.not.equal(first.buffer);
  });

  it('keeps small buffers out of the pool, and a buffer given back twice only once', () => {
    const pool = new AnswerPool();
    const small = pool.take(100);
    pool.give(small);
    expect(pool.take(100).buffer).to.not.equal(small.buffer);
    const big = pool.take(100_000);
    pool.give(big);
    pool.give(big);
    expect(pool.take(100_000).buffer).to.equal(big.buffer);
    expect(pool.take(100_000).buffer).to.not.equal(big.buffer);
  });

  it('hands out float buffers aligned for a Float32Array, reused once given back (issue 18 §1)', () => {
    const pool = new AnswerPool();
    const g = pool.takeF32(20_000);
    expect([g.length, g.byteOffset % 4]).to.deep.equal([20_000, 0]);
    pool.give(g);
    const again = pool.take(70_000);
    expect(again.buffer, 'the same buffer serves a message next').to.equal(g.buffer);
    expect(pool.takeF32(20_000).buffer).to.not.equal(g.buffer);
  });

  it('hands out word buffers for slices aligned for a Uint32Array, reused once given back (issue 18 §1)', () => {
    const pool = new AnswerPool();
    const w = pool.takeU32(12_000);
    expect([w.length, w.byteOffset % 4]).to.deep.equal([12_000, 0]);
    pool.give(w.subarray(8_000));
    expect(pool.takeU32(12_000).buffer, 'a view of the buffer gives it back').to.equal(w.buffer);
  });
});
