/**
 * Issue 17 (the fence ≤ 200 ms): the rounds of a migration step on real PS gRPC servers (port 0).
 * A source that has caught up keeps sending unfenced tails while the other source is still
 * copying, and no source fences before every one has caught up, so no fence covers another
 * source's copy. A source that fails stops the others before their fence.
 */
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { runRounds, RoundPeers } from '../../src/chief/migration-rounds';
import { GrpcMigrationPeers } from '../../src/client/migration-peers';
import { ERROR_CODES, TesseraError } from '../../src/common/errors';
import type { PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { CkptCluster, ckptCluster, idRange, trainRound } from '../helpers/checkpoint';
import { joiningPs } from '../helpers/migration';

const TABLES: TableSpec[] = [{ name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05 }, seed: 1 }];

describe('migration rounds: catch up, then fence together (issue 17)', function () {
  this.timeout(60_000);
  let cluster: CkptCluster;
  let joined: PsServer;
  let v2: ShardMap;
  let real: GrpcMigrationPeers;

  beforeEach(async () => {
    cluster = await ckptCluster(2, TABLES);
    joined = await joiningPs(TABLES, 1, cluster.map.numBuckets);
    v2 = planShardMap([...cluster.map.ps, { id: 2, addr: joined.addr }], { previous: cluster.map });
    await trainRound(cluster.client, 'emb', idRange(0, 2000), 8, 0);
    real = new GrpcMigrationPeers({ logger: silentLogger() });
  });

  afterEach(async () => {
    await Promise.all([...cluster.servers, joined].map((s) => real.end(s.addr, 'mig-v2', false)));
    real.close();
    await Promise.all([cluster.tearDown(), joined.stop()]);
  });

  const moves = () => cluster.servers.map((s, i) => ({
    source: s.addr, sourceId: cluster.map.ps[i].id, target: joined.addr, buckets: [...Array(v2.numBuckets).keys()].filter((b) => cluster.map.owner[b] === i && v2.ps[v2.owner[b]].id === 2),
  }));

  /** The real peers, logging each call; source `slow`'s BeginMigration waits for `release` (and then fails, with `fail`). */
  function held(slow: string, release: Promise<void>, fail?: Error) {
    const log: string[] = [];
    let tailsSeen = 0;
    let onTails!: () => void;
    const twoEarlyTails = new Promise<void>((r) => { onTails = r; });
    const peers: RoundPeers = {
      begin: async (addr, req) => {
        if (addr === slow) {
          await release;
          if (fail) throw fail;
        }
        const res = await real.begin(addr, req);
        log.push(`copied ${addr}`);
        return res;
      },
      tail: async (addr, id, fence) => {
        log.push(`${fence ? 'fence' : 'tail'} ${addr}`);
        if (!fence && addr !== slow && ++tailsSeen === 2) onTails();
        return real.tail(addr, id, fence);
      },
    };
    return { peers, log, twoEarlyTails };
  }

  it('a source that caught up sends tails while the other copies; both fence only after both copied', async () => {
    const [fast, slow] = cluster.servers.map((s) => s.addr);
    let release!: () => void;
    const h = held(slow, new Promise<void>((r) => { release = r; }));
    const done = runRounds(h.peers, { id: 'mig-v2', fromVersion: 1, moves: moves() });
    await h.twoEarlyTails; // the fast source, caught up, is still sending unfenced tails
    await trainRound(cluster.client, 'emb', idRange(0, 2000), 8, 1); // pushes go on meanwhile
    expect(h.log.some((e) => e.startsWith('fence'))).to.equal(false);
    release();
    const rounds = await done;
    const slowCopied = h.log.indexOf(`copied ${slow}`);
    expect(slowCopied).to.be.greaterThan(h.log.indexOf(`tail ${fast}`));
    expect(h.log.indexOf(`fence ${fast}`)).to.be.greaterThan(slowCopied);
    expect(h.log.indexOf(`fence ${slow}`)).to.be.greaterThan(slowCopied);
    expect(rounds.find((r) => r.source === fast)!.tails).to.be.at.least(2);
  });

  it('a source that fails stops the other before its fence, and the step fails with its error', async () => {
    const [, slow] = cluster.servers.map((s) => s.addr);
    let release!: () => void;
    const boom = new TesseraError(ERROR_CODES.UNAVAILABLE, `${slow}: copy failed`);
    const h = held(slow, new Promise<void>((r) => { release = r; }), boom);
    const done = runRounds(h.peers, { id: 'mig-v2', fromVersion: 1, moves: moves() }).then(() => null, (e: unknown) => e);
    await h.twoEarlyTails;
    release();
    expect(await done).to.equal(boom);
    expect(h.log.some((e) => e.startsWith('fence'))).to.equal(false);
  });
});
