import { expect } from 'chai';
import { PsFleet } from '../../../src/client/ps-fleet';
import { silentLogger } from '../../../src/common/logger';
import { PsNode } from '../../../src/ps/ps-node';
import { ReplicaStore } from '../../../src/ps/replication/replica-store';
import { ReplicationLog } from '../../../src/ps/replication/replication-log';
import { planShardMap } from '../../../src/sharding/shard-map';
import { Encoding } from '../../../src/wire/data-plane-codec';
import { asBytes } from '../../../src/wire/key-block';

// Issue 17 §2: the identity a client re-sends a failed-over push under is the one the promoted
// buddy knows it by, across two failovers in a row (PS 0 → its buddy PS 1 → PS 1's buddy PS 2).
const NB = 16;
const ALL = new Uint8Array(NB).fill(1);

function node(): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger() });
  n.createTable({ name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 }, seed: 7 });
  n.setShardMap(1, NB, null);
  return n;
}

/** Pushes 0.5 to rows 1 and 2 of `n` under `identity`; returns rows_applied (the first answer, for a duplicate). */
function push(n: PsNode, identity: { clientId: bigint; pushSeq: number }): number {
  return n.push({ table: 'emb', shardMapVersion: 1, ids: asBytes(Uint32Array.of(1, 0, 2, 0)), grads: asBytes(new Float32Array(8).fill(0.5)), encoding: Encoding.F32, ...identity });
}

/** A PS whose applied pushes are logged for its buddy as primary `id`. */
function primary(id: number): { ps: PsNode; log: ReplicationLog } {
  const ps = node();
  const log = new ReplicationLog(ps, { primaryId: id });
  ps.onApplied = (t, i, c, s, r) => log.applied(t, i, c, s, r);
  return { ps, log };
}

describe('PsFleet.failedOverIdentity (issue 17, exactly-once across failovers)', () => {
  // The fleet only names pushes here; its connections are never used (channels connect lazily).
  const fleet = new PsFleet({ shardMap: planShardMap([0, 1, 2].map((id) => ({ id, addr: `127.0.0.1:${9 + id}` }))), logger: silentLogger() });
  after(() => fleet.close());

  it('keeps the sequence number and derives a client id per dead PS, never this client\'s own', () => {
    const sent = fleet.pushIdentity(0);
    const again = fleet.failedOverIdentity(sent, 0);
    expect(again.pushSeq).to.equal(sent.pushSeq);
    expect(again.clientId).to.not.equal(sent.clientId);
    expect(again.clientId).to.not.equal(0n);
    expect(fleet.failedOverIdentity(sent, 1).clientId, 'another dead PS, another id').to.not.equal(again.clientId);
    expect(fleet.failedOverIdentity(sent, 0), 'the same for every re-send').to.deep.equal(again);
  });

  it('a push PS 0 never applied is applied once by PS 1; PS 1 dies unanswered; PS 2, promoted, acknowledges the re-send', async () => {
    const sent = fleet.pushIdentity(0); // to PS 0, which died before applying it
    const b = primary(1);
    const toB = fleet.failedOverIdentity(sent, 0);
    expect(push(b.ps, toB), 'unknown to PS 1: applied').to.equal(2);
    const c = node();
    const replicas = new ReplicaStore(c);
    replicas.apply(b.log.cut(1 << 16)!); // replicated; then PS 1 dies before answering
    await replicas.promote(1, ALL);
    const applied = () => c.stats().counters.pushes;
    expect(applied()).to.equal(0);
    const toC = fleet.failedOverIdentity(toB, 1);
    expect(push(c, toC), 'acknowledged with the first answer').to.equal(2);
    expect(c.dedup.duplicates, 'as a duplicate, not applied again').to.equal(1);
    expect(applied(), 'PS 2 applied nothing').to.equal(0);
    expect(push(c, fleet.pushIdentity(2)), 'a new push to PS 2 is applied').to.equal(2);
    expect([applied(), c.dedup.duplicates]).to.deep.equal([1, 1]);
  });
});
