/**
 * Issue 21 (cost of asynchrony): a worker counts the live workers with a membership watch on a
 * real etcd, so workers joining and leaving change its share of the job's push budget at once.
 */
import { expect } from 'chai';
import { Etcd3 } from 'etcd3';
import { silentLogger } from '../../src/common/logger';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { LiveCount, watchLiveCount } from '../../src/membership/live-count';
import { etcdForSuite } from '../helpers/etcd';

describe('watchLiveCount (real etcd, issue 21)', function () {
  this.timeout(30_000);
  const etcd = etcdForSuite();
  let client: Etcd3;
  let watcher: EtcdMembership;
  let others: EtcdMembership;
  let live: LiveCount | undefined;
  afterEach(async () => {
    await live?.stop();
    await others.close();
    await watcher.close();
    client.close();
  });

  it('counts workers that register and close, and ignores other roles', async () => {
    client = new Etcd3({ hosts: etcd.url });
    watcher = new EtcdMembership({ client, job: 'live-count', logger: silentLogger() });
    others = new EtcdMembership({ client, job: 'live-count', logger: silentLogger() });
    await watcher.register('worker', 'w-0', '127.0.0.1:1');
    const counts: number[] = [];
    let reached: ((n: number) => void) | null = null;
    const next = (want: number) => new Promise<void>((resolve) => {
      reached = (n) => { if (n === want) resolve(); };
    });
    live = await watchLiveCount(watcher, 'worker', (n) => { counts.push(n); reached?.(n); });
    expect(live.count()).to.equal(1);

    const two = next(3);
    await others.register('ps', 'ps-0', '127.0.0.1:2');
    await others.register('worker', 'w-1', '127.0.0.1:3');
    await others.register('worker', 'w-2', '127.0.0.1:4');
    await two;
    expect(live.count()).to.equal(3);

    const back = next(1);
    await others.close();
    await back;
    expect(live.count()).to.equal(1);
    expect(counts).to.deep.equal([2, 3, 2, 1]);
  });
});
