/**
 * Issue #16 (certificate rotation, etcd): a process's etcd client re-reads its certificate, key
 * and CA files when they change, without a restart (src/runtime/etcd-client.ts). A real etcd
 * with --client-cert-auth moves to a new CA (its own files replaced, then restarted, so it
 * trusts only the new CA); the client's files are replaced in place with a certificate of the
 * new CA. The same client object's watch reconnects and sees a new write, its lease keeps
 * alive, and a new operation succeeds; a client holding the old certificate is refused.
 */
import { expect } from 'chai';
import type { Etcd3, Lease } from 'etcd3';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureCa, issueCert } from '../../src/common/cert-issuer';
import { EtcdProcess, EtcdTlsFiles, launchEtcd } from '../../src/common/etcd-launcher';
import { createEtcdClient, EtcdClientFiles } from '../../src/runtime/etcd-client';
import { requireEtcd } from '../helpers/etcd';

/** Issues etcd's and a client's files from a new CA in `caDir`, into their places (renamed in, key first). */
async function issueInto(caDir: string, etcdFiles: EtcdTlsFiles, client: Required<Omit<EtcdClientFiles, 'refreshMs'>>): Promise<void> {
  const { cert: ca } = await ensureCa(caDir, 'ctr');
  const server = await issueCert(caDir, { name: 'etcd-server', hosts: ['127.0.0.1', 'localhost'] });
  const own = await issueCert(caDir, { identity: { job: 'ctr', role: 'admin', id: 'etcd-check' } });
  const worker = await issueCert(caDir, { identity: { job: 'ctr', role: 'worker', id: 'w-0' } });
  const place = (from: string, to: string) => {
    copyFileSync(from, `${to}.new`);
    renameSync(`${to}.new`, to);
  };
  for (const [from, to] of [[server.key, etcdFiles.serverKey], [server.cert, etcdFiles.serverCert], [ca, etcdFiles.ca], [own.key, etcdFiles.clientKey],
    [own.cert, etcdFiles.clientCert], [worker.key, client.key], [worker.cert, client.cert], [ca, client.ca]]) place(from, to);
}

function once<T>(emitter: { once(event: string, f: (x: T) => void): unknown }, event: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} in ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (x: T) => {
      clearTimeout(timer);
      resolve(x);
    });
  });
}

describe('etcd client certificate rotation without a restart (issue #16)', function () {
  this.timeout(60_000);
  let dir = '';
  let etcd: EtcdProcess | undefined;
  const clients: Etcd3[] = [];

  before(function () {
    requireEtcd(this);
    dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-etcd-rotation-'));
  });

  after(async () => {
    clients.forEach((c) => c.close());
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a client whose files are replaced with a new CA\'s certificate keeps its watch and lease and operates after etcd trusts only the new CA', async () => {
    const at = (f: string) => path.join(dir, f);
    mkdirSync(at('etcd'));
    mkdirSync(at('client'));
    const etcdFiles: EtcdTlsFiles = { serverCert: at('etcd/server.crt'), serverKey: at('etcd/server.key'), ca: at('etcd/ca.crt'), clientCert: at('etcd/check.crt'), clientKey: at('etcd/check.key') };
    const files = { cert: at('client/tls.crt'), key: at('client/tls.key'), ca: at('client/ca.crt') };
    await issueInto(at('ca-old'), etcdFiles, files);
    mkdirSync(at('old'));
    const old = { cert: at('old/tls.crt'), key: at('old/tls.key'), ca: at('old/ca.crt') };
    for (const k of ['cert', 'key', 'ca'] as const) copyFileSync(files[k], old[k]);
    etcd = await launchEtcd({ dataDir: at('etcd-data'), tls: etcdFiles });

    const client = createEtcdClient(etcd.url, { credentials: { ...files, refreshMs: 50 } });
    clients.push(client);
    const lease: Lease = client.lease(6);
    const lost: Error[] = [];
    lease.on('lost', (err) => lost.push(err));
    await lease.put('rot/member').value('before');
    const watcher = await client.watch().prefix('rot/').create();
    const disconnected = once(watcher, 'disconnected', 30_000);

    await issueInto(at('ca-new'), etcdFiles, files);
    await etcd.restart(); // now trusts only the new CA; every connection is dropped
    await disconnected;
    const writer = createEtcdClient(etcd.url, { credentials: files });
    clients.push(writer);
    const seen = once<{ key: Buffer }>(watcher, 'put', 30_000);
    await writer.put('rot/after').value('1');
    expect(String((await seen).key), 'the same watch, reconnected with the new certificate').to.equal('rot/after');
    await once(lease, 'keepaliveSucceeded', 30_000);
    expect(await client.get('rot/member').string(), 'the lease\'s key').to.equal('before');
    await client.put('rot/new-op').value('ok');
    expect(lost, 'lease lost').to.deep.equal([]);

    const stale = createEtcdClient(etcd.url, { credentials: old, dialTimeoutMs: 3_000 });
    clients.push(stale);
    const refused = await stale.get('rot/member').string().then(() => null, (e: Error) => e);
    expect(refused, 'the old CA\'s certificate is refused').to.be.instanceOf(Error);
    await watcher.cancel();
    await lease.revoke();
  });
});
