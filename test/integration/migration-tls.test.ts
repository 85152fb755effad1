/**
 * Issue #16 on what live resharding added (issue 17's PsMigration): with mutual TLS, a source PS
 * streams migrating rows to its target presenting its own `ps` certificate, and the PsMigration
 * methods are authorized per role: the chief (or admin) drives a migration, only a PS may stream
 * rows into another, and a worker may do neither. Real PS servers, real certificates.
 */
import { expect } from 'chai';
import { ERROR_CODES } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { PsNode } from '../../src/ps/ps-node';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-store';
import { Encoding } from '../../src/wire/data-plane-codec';
import { sendChunks } from '../../src/wire/migration-client';
import { migrationCall } from '../helpers/migration';
import { createTestCa, TestCa } from '../helpers/tls';

const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 3 };
const BUCKETS = 8;

describe('PsMigration over mutual TLS, authorized per role (issue #16)', function () {
  this.timeout(30_000);
  let ca: TestCa;
  let source: PsServer;
  let target: PsServer;

  async function tlsPs(id: string, owned: number[]): Promise<PsServer> {
    const node = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger() });
    node.createTable(SPEC);
    node.setShardMap(1, BUCKETS, owned);
    return startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), node, tls: ca.open(await ca.issue('ps', id)) });
  }
  const creds = async (role: 'chief' | 'worker' | 'admin', id: string) => ca.open(await ca.issue(role, id)).channelCredentials();
  const refusal = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a refusal'); }, (e: { code: string; message: string }) => e);

  before(async () => {
    ca = await createTestCa('ctr');
    source = await tlsPs('ps-0', [...Array(BUCKETS).keys()]);
    target = await tlsPs('ps-1', []);
    const ids = new BigUint64Array(Array.from({ length: 64 }, (_, i) => BigInt(i + 1)));
    source.node.push({ table: 'emb', shardMapVersion: 1, ids: new Uint8Array(ids.buffer), grads: new Uint8Array(new Float32Array(64 * 4).fill(0.5).buffer), encoding: Encoding.F32 });
  });
  after(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
    ca?.remove();
  });

  it('the chief drives a migration; the source streams to the target as `ps` over mutual TLS', async () => {
    const chief = await creds('chief', 'chief-0');
    const buckets = Buffer.from(Uint32Array.of(0, 1, 2, 3).buffer);
    const copied = await migrationCall(source.addr, 'BeginMigration', { migrationId: 'mig-tls', buckets, targetAddr: target.addr, shardMapVersion: 1 }, chief);
    expect(copied.rows).to.be.greaterThan(0);
    expect(target.node.store.getEmbedding('emb').size).to.equal(copied.rows);
    const ended = await migrationCall<{ known: boolean }>(source.addr, 'EndMigration', { migrationId: 'mig-tls', commit: false }, chief);
    expect(ended.known).to.equal(true);
  });

  it('refuses a worker driving a migration, naming the role and the method', async () => {
    const worker = await creds('worker', 'worker-0');
    const err = await refusal(migrationCall(source.addr, 'BeginMigration', { migrationId: 'mig-w', buckets: Buffer.alloc(4), targetAddr: target.addr, shardMapVersion: 1 }, worker));
    expect(err.code).to.equal(ERROR_CODES.PERMISSION_DENIED);
    expect(err.message).to.match(/role "worker" may not call BeginMigration/);
  });

  it('refuses anyone but a PS streaming rows into a PS (ReceiveBuckets)', async () => {
    for (const role of ['chief', 'worker', 'admin'] as const) {
      const err = await refusal(sendChunks(target.addr, 'mig-x', Buffer.from(Uint32Array.of(5).buffer), [], { timeoutMs: 10_000, credentials: await creds(role, `${role}-1`) }));
      expect(err.code, role).to.equal(ERROR_CODES.PERMISSION_DENIED);
      expect(err.message).to.match(new RegExp(`role "${role}" may not call ReceiveBuckets`));
    }
  });

  it('refuses a plaintext migration client at the handshake', async () => {
    const err = await refusal(migrationCall(source.addr, 'EndMigration', { migrationId: 'mig-p', commit: false }));
    expect(err.code).to.equal(ERROR_CODES.UNAVAILABLE);
  });
});
