/**
 * Issue 18: gRPC message framing for the node:http2 data plane (src/wire/grpc-frames.ts).
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import {
  decodeGrpcMessage, encodeGrpcMessage, frameMessage, grpcTimeout, MessageReader, parseGrpcTimeout,
} from '../../../src/wire/grpc-frames';

describe('gRPC framing for the node:http2 data plane (issue 18)', () => {
  it('reassembles messages split anywhere across chunks, each in its own buffer 5 bytes into its ArrayBuffer', () => {
    const messages = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff))];
    const wire = Buffer.concat(messages.map(frameMessage));
    for (const step of [1, 2, 3, 7, wire.length]) {
      const got: Buffer[] = [];
      const reader = new MessageReader(1 << 20, (m) => got.push(m));
      for (let at = 0; at < wire.length; at += step) expect(reader.push(wire.subarray(at, at + step))).to.equal(null);
      expect(got.map((m) => m.toString('hex')), `chunks of ${step}`).to.deep.equal(messages.map((m) => m.toString('hex')));
      expect(got.every((m) => m.byteOffset === 5)).to.equal(true);
      expect(reader.midMessage).to.equal(false);
    }
  });

  it('says when a stream stops inside a message', () => {
    const reader = new MessageReader(1 << 20, () => undefined);
    reader.push(frameMessage(Buffer.from('abc')).subarray(0, 6));
    expect(reader.midMessage).to.equal(true);
  });

  it('refuses a message over the limit, before reading it, and a compressed one', () => {
    const big = new MessageReader(10, () => { throw new Error('must not be delivered'); });
    expect(big.push(frameMessage(Buffer.alloc(11)))).to.deep.equal({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Received message larger than max (11 vs. 10)' });
    const compressed = frameMessage(Buffer.from('x'));
    compressed[0] = 1;
    expect(new MessageReader(10, () => undefined).push(compressed)?.code).to.equal(grpc.status.UNIMPLEMENTED);
  });

  it('percent-encodes grpc-message and reads it back; parses and writes grpc-timeout', () => {
    const details = 'table "naïve" 100% missing\nnext line';
    const encoded = encodeGrpcMessage(details);
    expect(encoded).to.match(/^[\x20-\x7e]*$/);
    expect(encoded).to.include('100%25');
    expect(decodeGrpcMessage(encoded)).to.equal(details);
    expect([parseGrpcTimeout('250m'), parseGrpcTimeout('2S'), parseGrpcTimeout('1H'), parseGrpcTimeout('9x'), parseGrpcTimeout(undefined)])
      .to.deep.equal([250, 2000, 3_600_000, null, null]);
    expect(parseGrpcTimeout(grpcTimeout(1234.5))).to.equal(1235);
  });
});
