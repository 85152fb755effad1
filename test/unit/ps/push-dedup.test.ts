import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { inheritMigrated, windowToMigrate } from '../../../src/ps/migration/migrated-window';
import { PushDedup } from '../../../src/ps/push-dedup';
import { inheritedClientId } from '../../../src/ps/replication/applied-pushes';
import { PsNode } from '../../../src/ps/ps-node';
import { silentLogger } from '../../../src/common/logger';
import { Encoding } from '../../../src/wire/data-plane-codec';
import { asBytes } from '../../../src/wire/key-block';

// Idempotent pushes (ADR 0027): the PS's memory of applied pushes, and its bounds.
describe('PushDedup: the window of applied pushes per client', () => {
  const A = 0x1234_5678_9abc_def0n;
  const B = 0xffff_ffff_ffff_fff1n;

  it('acknowledges a repeated (client, seq) with the first answer and counts it', () => {
    const d = new PushDedup({ windowSeqs: 8, maxClients: 4 });
    expect(d.lookup(A, 1)).to.equal(undefined);
    d.record(A, 1, 17);
    expect(d.lookup(A, 1)).to.equal(17);
    expect(d.lookup(B, 1), 'another client with the same seq is another push').to.equal(undefined);
    expect(d.lookup(A, 2)).to.equal(undefined);
    expect(d.duplicates).to.equal(1);
  });

  it('never deduplicates a push without an id or a seq (a client older than these fields)', () => {
    const d = new PushDedup({ windowSeqs: 8, maxClients: 4 });
    d.record(0n, 1, 3);
    d.record(A, 0, 3);
    d.record(undefined, undefined, 3);
    expect(d.lookup(0n, 1)).to.equal(undefined);
    expect(d.lookup(A, 0)).to.equal(undefined);
    expect(d.clientCount).to.equal(0);
  });

  it('remembers out-of-order seqs inside the window and refuses a seq below it', () => {
    const d = new PushDedup({ windowSeqs: 8, maxClients: 4 });
    for (const seq of [3, 1, 10, 5]) d.record(A, seq, seq * 10);
    // Window: seqs 3..10 (the 8 up to the highest, 10). 4, 6..9 were never applied.
    expect(d.lookup(A, 3)).to.equal(30);
    expect(d.lookup(A, 5)).to.equal(50);
    expect(d.lookup(A, 10)).to.equal(100);
    for (const seq of [4, 6, 7, 8, 9, 11]) expect(d.lookup(A, seq), `seq ${seq}`).to.equal(undefined);
    for (const seq of [1, 2]) {
      expect(() => d.lookup(A, seq), `seq ${seq}`).to.throw(TesseraError, /older than this PS remembers \(the 8 pushes up to 10\)/)
        .with.property('code', ERROR_CODES.PUSH_OUTSIDE_WINDOW);
    }
    // Refused, never retried: it might have been applied.
    expect(() => d.lookup(A, 1)).to.throw(TesseraError).with.property('retryable', false);
    // A slot reused by a newer seq forgets the older one (seq 11 and 3 share a slot of 8).
    d.record(A, 11, 110);
    expect(d.lookup(A, 11)).to.equal(110);
    expect(() => d.lookup(A, 3)).to.throw(TesseraError, /older than this PS remembers/);
  });

  it('evicts the least recently pushing client beyond maxClients; its next push starts afresh', () => {
    const d = new PushDedup({ windowSeqs: 4, maxClients: 2 });
    d.record(A, 1, 1);
    d.record(B, 1, 2);
    d.record(A, 2, 3); // A pushed last: B is now the least recent
    d.record(0x77n, 1, 4);
    expect(d.clientCount).to.equal(2);
    expect(d.lookup(B, 1), 'B was evicted: its memory is gone').to.equal(undefined);
    expect(d.lookup(A, 2)).to.equal(3);
    expect(d.lookup(0x77n, 1)).to.equal(4);
  });

  it('hands over the windows changed since a stamp, and the migrated identities are re-keyed by the source (issue 17)', () => {
    const src = new PushDedup();
    src.record(A, 1, 10);
    src.inherit(B, 4, 40); // a promoted replica's push: the client re-sends it under B itself
    const since = src.stamp + 1;
    src.record(A, 2, 20);
    const all: string[] = [];
    src.forEach((id, seq, n, inherited) => all.push(`${id.toString(16)}:${seq}:${n}:${inherited}`));
    expect(all).to.deep.equal([`${B.toString(16)}:4:40:true`, `${A.toString(16)}:1:10:false`, `${A.toString(16)}:2:20:false`]);
    const changed: number[] = [];
    src.forEach((_id, seq) => changed.push(seq), since);
    expect(changed, 'only A changed after the stamp: its whole window').to.deep.equal([1, 2]);

    const dst = new PushDedup();
    expect(inheritMigrated(dst, windowToMigrate(src, 3, 0))).to.equal(4); // A's 2 re-keyed, B's 1 re-keyed and 1 as is
    expect(dst.lookup(inheritedClientId(A, 3), 2), 'a re-send to the new owner once PS 3 is gone').to.equal(20);
    expect(dst.lookup(B, 4), 'the inherited push under the key it was re-sent with').to.equal(40);
    expect(dst.lookup(inheritedClientId(B, 3), 4)).to.equal(40);
    expect(dst.lookup(A, 1), 'the source\'s own numbers are not the target\'s').to.equal(undefined);
  });

  it('refuses bounds that are not positive integers', () => {
    expect(() => new PushDedup({ windowSeqs: 0 })).to.throw(TesseraError, /must be positive integers/);
  });

  it('PsNode applies a repeated push once, sparse and dense, even after a fence (ADR 0027)', () => {
    const node = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger() });
    node.createTable({ name: 'e', kind: 'embedding', dim: 2, optimizer: { kind: 'sgd', lr: 1 } });
    node.createTable({ name: 'd', kind: 'dense', size: 2, optimizer: { kind: 'sgd', lr: 1 } });
    const ids = asBytes(BigUint64Array.of(7n));
    const grads = asBytes(Float32Array.of(1, 2));
    const push = (table: string, pushSeq: number) => node.push({
      table, shardMapVersion: 0, ids: table === 'e' ? ids : new Uint8Array(0), grads, encoding: Encoding.F32, clientId: A, pushSeq,
    });
    const before = Float32Array.from(pullRow(node));
    expect(push('e', 1)).to.equal(1);
    const once = Float32Array.from(pullRow(node));
    node.setFenced('test');
    expect(push('e', 1), 'a retry of an applied push is acknowledged even while fenced').to.equal(1);
    node.setFenced(null);
    expect(pullRow(node)).to.deep.equal(once);
    expect(once).to.not.deep.equal(before);
    expect(push('d', 2)).to.equal(1);
    const dense = node.store.getDense('d').pull();
    expect(push('d', 2)).to.equal(1);
    expect(node.store.getDense('d').pull()).to.deep.equal(dense);
    expect(node.counters.pushes).to.equal(2);
    expect(node.dedup.duplicates).to.equal(2);
  });
});

function pullRow(node: PsNode): Float32Array {
  let out = new Float32Array(0);
  node.pull({ table: 'e', shardMapVersion: 0, ids: asBytes(BigUint64Array.of(7n)), encoding: Encoding.F32 }, (bytes) => {
    out = new Float32Array(bytes / 4);
    return new Uint8Array(out.buffer);
  });
  return out;
}
