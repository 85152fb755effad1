import { expect } from 'chai';
import * as protobuf from 'protobufjs';
import * as path from 'path';
import * as codec from '../../../src/wire/data-plane-codec';
import { ProtoReader } from '../../../src/wire/proto-bytes';
import { PROTO_ROOT } from '../../../src/wire/services';

// The hand-written codec must stay byte-compatible with protos/tessera/v1/data_plane.proto so
// that any gRPC client (Python, Go) can talk to a Tessera PS.
describe('data-plane codec vs protobufjs', () => {
  let root: protobuf.Root;
  before(() => {
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_ROOT, target));
    root.loadSync('tessera/v1/data_plane.proto');
  });

  const ids = Buffer.from(new BigUint64Array([1n, 2n ** 63n + 5n, 0xffffffffffffffffn]).buffer);
  const values = Buffer.from(new Float32Array([1.5, -2, 3.25]).buffer);

  it('encodes a PullRequest protobufjs decodes identically', () => {
    const bytes = codec.encodePullRequest({ table: 'emb', shardMapVersion: 2 ** 40 + 3, ids, encoding: codec.Encoding.F16, requestId: 77 });
    const m = root.lookupType('tessera.v1.PullRequest').decode(bytes) as unknown as Record<string, unknown>;
    expect(m.table).to.equal('emb');
    expect(String(m.shardMapVersion)).to.equal(String(2 ** 40 + 3));
    expect(Buffer.from(m.ids as Uint8Array).equals(ids)).to.equal(true);
    expect(m.encoding).to.equal(1);
    expect(Number(m.requestId)).to.equal(77);
  });

  it('decodes a PushRequest encoded by protobufjs, with unknown fields skipped', () => {
    const T = root.lookupType('tessera.v1.PushRequest');
    const enc = Buffer.from(T.encode(T.create({ table: 't', shardMapVersion: 9, ids, grads: values, encoding: 0, requestId: 5 })).finish());
    const extra = Buffer.concat([enc, Buffer.from([0x7a, 0x02, 0xaa, 0xbb])]); // field 15, 2 bytes: unknown
    const m = codec.decodePushRequest(extra);
    expect(m).to.include({ table: 't', shardMapVersion: 9, encoding: 0, requestId: 5, encodedBytes: extra.length });
    expect(Buffer.from(m.ids).equals(ids)).to.equal(true);
    expect(Buffer.from(m.grads).equals(values)).to.equal(true);
  });

  // Issue 23: the table incarnation a worker knows travels with each pull and push (field 7).
  it('carries table_incarnation both ways, with protobufjs (issue 23)', () => {
    const inc = 2 ** 47 + 11;
    const pull = root.lookupType('tessera.v1.PullRequest').decode(codec.encodePullRequest({
      table: 'emb', shardMapVersion: 1, ids, encoding: codec.Encoding.F32, requestId: 1, tableIncarnation: inc,
    })) as unknown as Record<string, unknown>;
    expect(String(pull.tableIncarnation)).to.equal(String(inc));
    const T = root.lookupType('tessera.v1.PushRequest');
    const enc = Buffer.from(T.encode(T.create({ table: 't', shardMapVersion: 9, ids, grads: values, tableIncarnation: inc })).finish());
    expect(codec.decodePushRequest(enc).tableIncarnation).to.equal(inc);
    expect(codec.decodePullRequest(codec.encodePullRequest({ table: 't', shardMapVersion: 1, ids, encoding: 0, requestId: 2 })).tableIncarnation).to.equal(0);
  });

  it('allocPullResponse yields an aligned values region and a valid PullResponse', () => {
    const { encoded, values: region } = codec.allocPullResponse(12345, 3, codec.Encoding.F32, 12);
    expect(region.byteOffset % 4).to.equal(0);
    new Float32Array(region.buffer, region.byteOffset, 3).set([1.5, -2, 3.25]);
    const m = root.lookupType('tessera.v1.PullResponse').decode(encoded) as unknown as Record<string, unknown>;
    expect(Number(m.requestId)).to.equal(12345);
    expect(m.dim).to.equal(3);
    expect(Buffer.from(m.values as Uint8Array).equals(values)).to.equal(true);
    const back = codec.decodePullResponse(encoded);
    expect(back.dim).to.equal(3);
    expect(Buffer.from(back.values).equals(values)).to.equal(true);
  });

  /** The field numbers of an encoded message, in order. */
  function fieldNumbers(buf: Uint8Array): number[] {
    const r = new ProtoReader(buf);
    const out: number[] = [];
    while (r.more()) {
      out.push(r.tag());
      r.skip();
    }
    return out;
  }

  /** What a gRPC receiver does: frame header + message in one fresh buffer, message at offset 5. */
  function asReceived(encoded: Buffer): Buffer {
    const framed = Buffer.alloc(encoded.length + 5 + 8192); // > 4 KiB: not from Node's pool
    encoded.copy(framed, 5);
    return framed.subarray(5, 5 + encoded.length);
  }

  it('aligns id and value payloads where the receiver reads them, for any table name length', () => {
    for (let nameLen = 1; nameLen <= 9; nameLen++) {
      const table = 't'.repeat(nameLen);
      const push = codec.decodePushRequest(asReceived(codec.encodePushRequest({ table, shardMapVersion: 300, ids, grads: values, encoding: 0, requestId: 99999 })));
      expect(push.table).to.equal(table);
      expect(push.ids.byteOffset % 4, `push ids, name ${nameLen}`).to.equal(0);
      expect(push.grads.byteOffset % 4, `push grads, name ${nameLen}`).to.equal(0);
      expect(Buffer.from(push.grads).equals(values)).to.equal(true);
      const pull = codec.decodePullRequest(asReceived(codec.encodePullRequest({ table, shardMapVersion: 1, ids, encoding: 0, requestId: 2 ** nameLen })));
      expect(pull.ids.byteOffset % 4, `pull ids, name ${nameLen}`).to.equal(0);
      expect(pull.requestId).to.equal(2 ** nameLen);
    }
    for (const bytes of [4, 12, 400, 70_000, 300_000]) {
      const { encoded } = codec.allocPullResponse(7, 1, codec.Encoding.F32, bytes);
      expect(codec.decodePullResponse(asReceived(encoded)).values.byteOffset % 4, `response of ${bytes} bytes`).to.equal(0);
    }
  });

  // Issue 19 §4: row versions for push staleness, optional fields old clients never see.
  it('carries want_versions and versions as protobufjs reads and writes them; an ordinary pull is unchanged', () => {
    const pullT = root.lookupType('tessera.v1.PullRequest');
    const plain = { table: 'emb', shardMapVersion: 3, ids, encoding: codec.Encoding.F32, requestId: 9 };
    const asked = codec.encodePullRequest({ ...plain, wantVersions: true });
    expect((pullT.decode(asked) as unknown as Record<string, unknown>).wantVersions).to.equal(true);
    expect(codec.decodePullRequest(asked).wantVersions).to.equal(true);
    const ordinary = codec.encodePullRequest(plain);
    expect((pullT.decode(ordinary) as unknown as Record<string, unknown>).wantVersions).to.equal(false);
    expect(codec.decodePullRequest(ordinary).wantVersions).to.equal(undefined);
    expect(fieldNumbers(ordinary), 'field 8 is written only when set').to.not.include(8);
    expect(fieldNumbers(asked)).to.include(8);
    // Next to issue 23's table_incarnation (field 7): both read back, by both codecs.
    const both = codec.encodePullRequest({ ...plain, wantVersions: true, tableIncarnation: 5 });
    expect(pullT.decode(both)).to.include({ wantVersions: true });
    expect(Number((pullT.decode(both) as unknown as Record<string, unknown>).tableIncarnation)).to.equal(5);
    expect(codec.decodePullRequest(both)).to.include({ wantVersions: true, tableIncarnation: 5 });

    const pushT = root.lookupType('tessera.v1.PushRequest');
    const viaPbjs = Buffer.from(pushT.encode(pushT.create({ table: 't', shardMapVersion: 1, ids, grads: values, requestId: 4, wantVersions: true })).finish());
    expect(codec.decodePushRequest(viaPbjs)).to.include({ table: 't', wantVersions: true, requestId: 4 });
    const push = codec.encodePushRequest({ table: 't', shardMapVersion: 1, ids, grads: values, encoding: 0, requestId: 4, wantVersions: true });
    expect((pushT.decode(push) as unknown as Record<string, unknown>).wantVersions).to.equal(true);
    const pushBoth = Buffer.from(pushT.encode(pushT.create({ table: 't', shardMapVersion: 1, ids, grads: values, tableIncarnation: 9, wantVersions: true })).finish());
    expect(codec.decodePushRequest(pushBoth)).to.include({ wantVersions: true, tableIncarnation: 9 });

    const versions = Buffer.from(Uint32Array.of(0, 7, 0xffffffff).buffer);
    const { encoded, values: region, versions: vRegion } = codec.allocPullResponse(5, 1, codec.Encoding.F32, 12, 3);
    new Float32Array(region.buffer, region.byteOffset, 3).set([1.5, -2, 3.25]);
    vRegion!.set([0, 7, 0xffffffff]);
    const pullRes = root.lookupType('tessera.v1.PullResponse').decode(encoded) as unknown as Record<string, unknown>;
    expect(Buffer.from(pullRes.values as Uint8Array).equals(values)).to.equal(true);
    expect(Buffer.from(pullRes.versions as Uint8Array).equals(versions)).to.equal(true);
    const received = codec.decodePullResponse(asReceived(encoded));
    expect(received.versions!.byteOffset % 4, 'versions aligned where the client reads them').to.equal(0);
    expect(Buffer.from(received.versions!).equals(versions)).to.equal(true);
    expect(codec.allocPullResponse(5, 1, codec.Encoding.F32, 12).versions).to.equal(null);
    expect(codec.decodePullResponse(codec.encodePullResponse({ requestId: 1, values, dim: 3, encoding: 0, versions })).versions).to.deep.equal(new Uint8Array(versions));

    const pushResT = root.lookupType('tessera.v1.PushResponse');
    const res = codec.encodePushResponse({ requestId: 8, rowsApplied: 3, versions });
    const pbjsRes = pushResT.decode(res) as unknown as Record<string, unknown>;
    expect(pbjsRes.rowsApplied).to.equal(3);
    expect(Buffer.from(pbjsRes.versions as Uint8Array).equals(versions)).to.equal(true);
    const back = codec.decodePushResponse(asReceived(res));
    expect(back.versions!.byteOffset % 4).to.equal(0);
    expect(Buffer.from(back.versions!).equals(versions)).to.equal(true);
    const fromPbjs = codec.decodePushResponse(Buffer.from(pushResT.encode(pushResT.create({ requestId: 8, rowsApplied: 3, versions })).finish()));
    expect(Buffer.from(fromPbjs.versions!).equals(versions)).to.equal(true);
    expect(codec.decodePushResponse(codec.encodePushResponse({ requestId: 8, rowsApplied: 3 })).versions).to.equal(undefined);
  });

  // Idempotent pushes (ADR 0027): client_id (fixed64, field 9) and push_seq (field 10), written
  // only when set, so an ordinary push is byte for byte what it was.
  it('carries client_id and push_seq as protobufjs reads and writes them; a push without them is unchanged', () => {
    const pushT = root.lookupType('tessera.v1.PushRequest');
    const plain = { table: 't', shardMapVersion: 1, ids, grads: values, encoding: codec.Encoding.F32, requestId: 4 };
    const clientId = 0xfedcba9876543210n; // above 2^63: no sign or precision loss either way
    const pushSeq = 2 ** 40 + 7;
    const withId = codec.encodePushRequest({ ...plain, clientId, pushSeq, wantVersions: true, tableIncarnation: 3 });
    const pbjs = pushT.decode(withId) as unknown as Record<string, { toString(): string }>;
    expect(BigInt.asUintN(64, BigInt(pbjs.clientId.toString()))).to.equal(clientId);
    expect(pbjs.pushSeq.toString()).to.equal(String(pushSeq));
    expect(codec.decodePushRequest(withId)).to.include({ clientId, pushSeq, wantVersions: true, tableIncarnation: 3 });
    const fromPbjs = Buffer.from(pushT.encode(pushT.create({ ...plain, clientId: '18364758544493064720', pushSeq: 12 })).finish());
    expect(codec.decodePushRequest(fromPbjs)).to.include({ clientId, pushSeq: 12, table: 't' });
    const ordinary = codec.encodePushRequest(plain);
    expect(fieldNumbers(ordinary)).to.not.include.members([9, 10]);
    expect(fieldNumbers(withId)).to.include.members([9, 10]);
    expect(codec.decodePushRequest(ordinary).clientId).to.equal(undefined);
    const aligned = codec.decodePushRequest(asReceived(withId));
    expect(aligned.grads.byteOffset % 4, 'grads stay aligned after the new fields').to.equal(0);
    expect(aligned.clientId).to.equal(clientId);
  });

  // Issue 15: a cut at per-worker steps (ADR 0040). The step tag (fields 11-14, 16) is written
  // only when set, and read by protobufjs (so by any generated client) as the proto declares it.
  it('carries a push step tag as protobufjs reads and writes it; an untagged push has none', () => {
    const pushT = root.lookupType('tessera.v1.PushRequest');
    const plain = { table: 't', shardMapVersion: 1, ids, grads: values, encoding: codec.Encoding.F32, requestId: 4 };
    const stepTag = { client: 0xf00d_0000_0000_0001n, step: 2 ** 33 + 1, parts: 3, ackedThrough: 2 ** 33 - 2, positions: new Uint8Array([1, 2, 3]) };
    const tagged = codec.encodePushRequest({ ...plain, stepTag });
    const pbjs = pushT.decode(tagged) as unknown as Record<string, { toString(): string }>;
    expect(BigInt.asUintN(64, BigInt(pbjs.stepClient.toString()))).to.equal(stepTag.client);
    expect([pbjs.step, pbjs.stepParts, pbjs.ackedThrough].map(String)).to.deep.equal([String(stepTag.step), '3', String(stepTag.ackedThrough)]);
    expect([...(pbjs.stepPositions as unknown as Uint8Array)]).to.deep.equal([1, 2, 3]);
    const back = codec.decodePushRequest(asReceived(tagged));
    expect({ ...back.stepTag, positions: [...back.stepTag!.positions] }).to.deep.equal({ ...stepTag, positions: [1, 2, 3] });
    expect(back.grads.byteOffset % 4, 'grads stay aligned after the tag').to.equal(0);
    const fromPbjs = Buffer.from(pushT.encode(pushT.create({ ...plain, stepClient: '9', step: 5, stepParts: 1, ackedThrough: 4, stepPositions: new Uint8Array([9]) })).finish());
    expect(codec.decodePushRequest(fromPbjs).stepTag).to.deep.include({ client: 9n, step: 5, parts: 1, ackedThrough: 4 });
    expect(fieldNumbers(codec.encodePushRequest(plain))).to.not.include.members([11, 12, 13, 14, 16]);
    expect(codec.decodePushRequest(codec.encodePushRequest(plain)).stepTag).to.equal(undefined);
  });

  it('round-trips an in-band error on Pull and Push responses', () => {
    const error = { code: 9, message: 'stale', tesseraCode: 'TESSERA_ERR_STALE_SHARD_MAP' };
    const pull = codec.decodePullResponse(codec.encodePullResponse({ requestId: 1, values: new Uint8Array(0), dim: 0, encoding: 0, error }));
    expect(pull.error).to.deep.equal(error);
    const push = codec.decodePushResponse(codec.encodePushResponse({ requestId: 2, rowsApplied: 0, error }));
    expect(push.error).to.deep.equal(error);
    const T = root.lookupType('tessera.v1.PushResponse');
    const viaPbjs = T.decode(codec.encodePushResponse({ requestId: 2, rowsApplied: 7, error })) as unknown as Record<string, unknown>;
    expect((viaPbjs.error as Record<string, unknown>).tesseraCode).to.equal('TESSERA_ERR_STALE_SHARD_MAP');
    expect(viaPbjs.rowsApplied).to.equal(7);
  });

  it('marks a truncated request malformed with a clear reason, keeping the fields read before (issue 23: never throws)', () => {
    const bytes = codec.encodePullRequest({ table: 'emb', shardMapVersion: 1, ids, encoding: 0, requestId: 7 });
    const m = codec.decodePullRequest(bytes.subarray(0, bytes.length - 5));
    expect(m.malformed).to.match(/malformed protobuf message: field of \d+ bytes overruns the message/);
    expect(m).to.include({ table: 'emb', requestId: 7 });
    const push = codec.decodePushRequest(Buffer.from([0x08, 0xff]));
    expect(push.malformed).to.match(/malformed protobuf message/);
    expect(push.requestId).to.equal(0);
    expect(codec.decodePullRequest(bytes).malformed).to.equal(undefined);
  });

  // Issue 18 (ADR 0045, amendment 4): a received message is a Buffer the node:http2 PS reuses for
  // the next request, and Buffer's slice() is a view; the step ledger copied a tag's positions
  // with slice() and so kept a view, which the next push overwrote. Decoded fields are plain
  // Uint8Array views, whose slice() copies as the type says.
  it('decodes bytes fields of a Buffer as plain Uint8Array views: slice() copies them (issue 18)', () => {
    const stepTag = { client: 7n, step: 1, parts: 1, ackedThrough: 0, positions: new Uint8Array([1, 2, 3]) };
    const received = asReceived(codec.encodePushRequest({ table: 't', shardMapVersion: 1, ids, grads: values, encoding: codec.Encoding.F32, requestId: 4, stepTag }));
    const m = codec.decodePushRequest(received);
    for (const field of [m.ids, m.grads, m.stepTag!.positions]) expect(Buffer.isBuffer(field)).to.equal(false);
    const kept = m.stepTag!.positions.slice();
    received.fill(0xee);
    expect([...kept], 'a copy, untouched by the buffer\'s next use').to.deep.equal([1, 2, 3]);
    expect(m.stepTag!.positions[0], 'the decoded field itself is still a view').to.equal(0xee);
  });
});
