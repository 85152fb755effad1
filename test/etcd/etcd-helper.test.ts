/** The real-etcd test helper: start, put/get, restart on the same data dir, stop. */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';

describe('test helper: startEtcd (real etcd)', function () {
  // Start + restart each take ~0.2–1 s here; a slow CI disk (WAL fsync) can take several.
  this.timeout(30_000);
  let etcd: EtcdHandle | undefined;
  let client: Etcd3 | undefined;

  before(function () {
    requireEtcd(this);
  });

  afterEach(async () => {
    client?.close();
    client = undefined;
    await etcd?.stop();
    etcd = undefined;
  });

  it('serves put/get and keeps data across a restart on the same data dir', async () => {
    etcd = await startEtcd();
    expect(etcd.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    client = new Etcd3({ hosts: etcd.url });
    await client.put('/tessera/test/k').value('v1');
    expect(await client.get('/tessera/test/k').string()).to.equal('v1');
    client.close();

    const firstPid = etcd.proc.pid;
    await etcd.restart();
    expect(etcd.proc.pid).to.not.equal(firstPid);
    client = new Etcd3({ hosts: etcd.url });
    expect(await client.get('/tessera/test/k').string()).to.equal('v1');
  });

  it('recovers data after a SIGKILL crash, and stop() removes the temp data dir', async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.url });
    await client.put('/tessera/test/crash').value('survives');
    client.close();

    await etcd.kill();
    expect(etcd.proc.signalCode).to.equal('SIGKILL');
    await etcd.restart();
    client = new Etcd3({ hosts: etcd.url });
    expect(await client.get('/tessera/test/crash').string()).to.equal('survives');
    client.close();
    client = undefined;

    const { dataDir } = etcd;
    await etcd.stop();
    etcd = undefined;
    expect(existsSync(dataDir)).to.equal(false);
  });
});
