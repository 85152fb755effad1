import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { ERROR_CODES } from '../../src/common/errors';
import { newCheckpointId } from '../../src/checkpoint/checkpoint-id';
import { takeCheckpoint } from '../../src/client/take-checkpoint';
import { verifyCheckpoint } from '../../src/checkpoint/verify';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { CkptCluster, ckptCluster, dumpTable, idRange, trainRound, ckptPerTest } from '../helpers/checkpoint';
import { restoreFromCheckpoint } from '../../src/client/restore-checkpoint';

const DIM = 4;
const SLAB = 64;
const EVICTING: TableSpec[] = [
  { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, eviction: { maxRows: 4 * SLAB } },
];
const PLAIN: TableSpec[] = [{ name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 } }];

async function expectError(p: Promise<unknown>, code: string, ...parts: (string | RegExp)[]): Promise<Error> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { code?: string };
    expect(e.code, e.message).to.equal(code);
    for (const part of parts) expect(e.message).to.match(typeof part === 'string' ? new RegExp(part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : part);
    return e;
  }
  throw new Error(`expected ${code}, got success`);
}

describe('checkpoint chains, corruption and bad input (issue #5)', function () {
  this.timeout(60_000);
  const suite = ckptPerTest();

  async function cluster(n: number, tables = EVICTING): Promise<CkptCluster> {
    const c = await ckptCluster(n, tables, SLAB);
    suite.track(c);
    return c;
  }

  it('full + 2 incrementals, with evictions between them, restore exactly like a full taken at the same point', async () => {
    const c = await cluster(2);
    await trainRound(c.client, 'emb', idRange(0, 300), DIM, 0);
    const a = newCheckpointId(1);
    await takeCheckpoint(c.client.checkpoints, suite.root, { id: a, kind: 'full' });
    await trainRound(c.client, 'emb', idRange(0, 50), DIM, 1); // pushed rows
    await trainRound(c.client, 'emb', idRange(1000, 300), DIM, 2); // new rows; the budget evicts old ones
    const b = newCheckpointId(2);
    const mb = await takeCheckpoint(c.client.checkpoints, suite.root, { id: b, kind: 'incremental', base: a });
    await trainRound(c.client, 'emb', idRange(2000, 200), DIM, 3);
    await trainRound(c.client, 'emb', idRange(1000, 20), DIM, 4);
    const cId = newCheckpointId(3);
    const mc = await takeCheckpoint(c.client.checkpoints, suite.root, { id: cId, kind: 'incremental', base: b });
    const d = newCheckpointId(4);
    await takeCheckpoint(c.client.checkpoints, suite.root, { id: d, kind: 'full' });
    const evictions = c.servers.reduce((s, sv) => s + sv.node.store.list()[0].memory!.evictedBudget, 0);
    expect(evictions, 'eviction happened between the checkpoints').to.be.greaterThan(0);
    expect(mb.manifest.files.some((f) => f.kind === 'tombstones')).to.equal(true);
    expect(mc.manifest.files.filter((f) => f.kind === 'rows').reduce((s, f) => s + f.rows, 0)).to.be.lessThan(dumpTable(c.servers, 'emb').size);
    const live = dumpTable(c.servers, 'emb');
    const viaChain = await cluster(2);
    await restoreFromCheckpoint(viaChain.client.checkpoints, suite.root, cId);
    const viaFull = await cluster(2);
    await restoreFromCheckpoint(viaFull.client.checkpoints, suite.root, d);
    expect(dumpTable(viaChain.servers, 'emb')).to.deep.equal(dumpTable(viaFull.servers, 'emb'));
    expect(dumpTable(viaChain.servers, 'emb')).to.deep.equal(live);
    expect((await verifyCheckpoint(suite.root, cId)).chain).to.deep.equal([a, b, cId]);
  });

  it('an incremental continues after a restore, with the restored checkpoint as its base', async () => {
    const c = await cluster(1, PLAIN);
    await trainRound(c.client, 'emb', idRange(0, 200), DIM, 0);
    const a = newCheckpointId(1);
    await takeCheckpoint(c.client.checkpoints, suite.root, { id: a, kind: 'full' });
    const r = await cluster(1, PLAIN);
    await restoreFromCheckpoint(r.client.checkpoints, suite.root, a);
    await trainRound(r.client, 'emb', idRange(0, 10), DIM, 1);
    const b = newCheckpointId(2);
    const mb = await takeCheckpoint(r.client.checkpoints, suite.root, { id: b, kind: 'incremental', base: a });
    expect(mb.manifest.files.reduce((s, f) => s + f.rows, 0)).to.equal(10);
    const again = await cluster(1, PLAIN);
    await restoreFromCheckpoint(again.client.checkpoints, suite.root, b);
    expect(dumpTable(again.servers, 'emb')).to.deep.equal(dumpTable(r.servers, 'emb'));
  });

  it('a truncated and a bit-flipped chunk fail verify and restore naming file and chunk; the PS keeps serving', async () => {
    const c = await cluster(2, PLAIN);
    await trainRound(c.client, 'emb', idRange(0, 2000), DIM, 0);
    const id = newCheckpointId(1);
    const { manifest } = await takeCheckpoint(c.client.checkpoints, suite.root, { id, kind: 'full' });
    const victim = manifest.files.find((f) => f.kind === 'rows' && f.bytes > 2000)!;
    const file = path.join(suite.root, id, victim.path);
    const good = fs.readFileSync(file);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', good.subarray(0, good.length - 10), /chunk \d+ \(offset \d+\): truncated/],
      ['bit-flipped', Buffer.from(good).fill(good[500] ^ 0x10, 500, 501), /chunk \d+ \(offset \d+\): (payload|header) checksum mismatch/],
    ];
    for (const [what, bytes, pattern] of cases) {
      fs.writeFileSync(file, bytes);
      const report = await verifyCheckpoint(suite.root, id);
      expect(report.faults.join('\n'), what).to.include(victim.path).and.match(pattern);
      const fresh = await cluster(2, PLAIN);
      await trainRound(fresh.client, 'emb', idRange(0, 5), DIM, 9);
      const rowsBefore = dumpTable(fresh.servers, 'emb');
      await expectError(restoreFromCheckpoint(fresh.client.checkpoints, suite.root, id), ERROR_CODES.CHECKPOINT_CORRUPT, victim.path, pattern);
      expect(dumpTable(fresh.servers, 'emb'), 'a refused restore changes nothing').to.deep.equal(rowsBefore);
      await trainRound(fresh.client, 'emb', idRange(0, 5), DIM, 10);
    }
    fs.writeFileSync(file, good);
    expect((await verifyCheckpoint(suite.root, id)).faults).to.deep.equal([]);
  });

  it('refuses an unknown id, an incompatible spec, a garbage file, and an unknown incremental base', async () => {
    const c = await cluster(1, PLAIN);
    await trainRound(c.client, 'emb', idRange(0, 100), DIM, 0);
    const id = newCheckpointId(1);
    const { manifest } = await takeCheckpoint(c.client.checkpoints, suite.root, { id, kind: 'full' });
    await expectError(restoreFromCheckpoint(c.client.checkpoints, suite.root, 'ckpt-00000099-20260101T000000Z'), ERROR_CODES.CHECKPOINT_NOT_FOUND, 'no checkpoint here');
    const wide = await cluster(1, [{ name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05 } }]);
    await expectError(restoreFromCheckpoint(wide.client.checkpoints, suite.root, id), ERROR_CODES.INCOMPATIBLE_SPEC, 'table "emb"', 'dim 4', 'dim 8');
    const f16 = await cluster(1, [{ name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, weightFormat: 'f16' }]);
    await expectError(restoreFromCheckpoint(f16.client.checkpoints, suite.root, id), ERROR_CODES.INCOMPATIBLE_SPEC, 'table "emb"', 'weightFormat');
    const sgd = await cluster(1, [{ name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 0.05 } }]);
    await expectError(restoreFromCheckpoint(sgd.client.checkpoints, suite.root, id), ERROR_CODES.INCOMPATIBLE_SPEC, 'table "emb"', 'stateWidth');
    const victim = manifest.files[0];
    fs.writeFileSync(path.join(suite.root, id, victim.path), Buffer.alloc(300, 0xab));
    await expectError(restoreFromCheckpoint(c.client.checkpoints, suite.root, id), ERROR_CODES.CHECKPOINT_CORRUPT, `${victim.path} chunk 0 (offset 0): bad magic`);
    await expectError(c.client.checkpoints.snapshot(newCheckpointId(2), suite.root, 'incremental', 'nope'), ERROR_CODES.SNAPSHOT_CONFLICT, 'base_id', 'take a full checkpoint');
    await expectError(c.client.checkpoints.snapshot('../escape', suite.root, 'full'), ERROR_CODES.INVALID_ARGUMENT, 'checkpoint_id');
    // Still serving after every refusal.
    await trainRound(c.client, 'emb', idRange(0, 100), DIM, 1);
  });
});
