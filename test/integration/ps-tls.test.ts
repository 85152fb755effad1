/**
 * Issue #16 §2-§4: mutual TLS and per-role authorization at a real PS over real gRPC, with real
 * certificates from the project's CA code: who may call what, another job, no certificate, a
 * foreign CA, an expired certificate, and rotation of the PS's files without a restart.
 */
import { expect } from 'chai';
import { copyFileSync, renameSync } from 'node:fs';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { tableSpecToWire } from '../../src/ps/table-spec-wire';
import type { TableSpec } from '../../src/ps/store/table-store';
import { Encoding } from '../../src/wire/data-plane-codec';
import { PsConnection } from '../../src/wire/ps-connection';
import { loadTlsConfig, TlsContext } from '../../src/wire/tls';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { createLogSink } from '../helpers/log-sink';
import { createTestCa, TestCa } from '../helpers/tls';
import { until } from '../helpers/until';

const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 3 };
const IDS = Buffer.from(new BigUint64Array([1n, 2n, 3n]).buffer);
const pullReq = { table: 'emb', shardMapVersion: 0, ids: IDS, encoding: Encoding.F32, requestId: 0 };
const pushReq = { ...pullReq, grads: Buffer.from(new Float32Array(12).fill(0.5).buffer) };

// Issue 18: every case runs on both data planes (grpc-js, and gRPC framing on node:http2; ADR 0038).
for (const dataPlane of DATA_PLANES) describe(`PS with mutual TLS and per-role authorization (issue #16), data plane ${dataPlane}`, function () {
  this.timeout(30_000);
  let ca: TestCa;
  let other: TestCa;
  let ps: PsServer;
  let psTls: TlsContext;
  const conns: PsConnection[] = [];
  const sink = createLogSink('warn');

  /** A connection to `addr` as `ctx` (null: plaintext) on this suite's data plane. */
  const dial = (addr: string, ctx: TlsContext | null) => new PsConnection({
    addr, maxMessageBytes: 1 << 20, credentials: ctx?.channelCredentials(), dataPlane, http2Tls: ctx && dataPlane === 'http2' ? () => ctx.httpsClient() : undefined,
  });
  async function connect(ctx: TlsContext | null): Promise<PsConnection> {
    const c = dial(ps.addr, ctx);
    conns.push(c);
    return c;
  }
  const as = async (role: 'chief' | 'worker' | 'serve' | 'admin' | 'ps', job?: string) => connect(ca.open(await ca.issue(role, `${role}-x`, { job })));
  const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a refusal'); }, (e: { code: string; message: string }) => e);

  before(async () => {
    ca = await createTestCa('ctr');
    other = await createTestCa('ctr');
    psTls = ca.open(await ca.issue('ps', 'ps-0'));
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: sink.logger, tls: psTls, dataPlane });
    await (await as('chief')).adminCall('CreateTable', { spec: tableSpecToWire(SPEC) }, 5000);
  });
  after(async () => {
    conns.forEach((c) => c.close());
    await ps?.stop();
    ca?.remove();
    other?.remove();
  });

  it('lets a worker pull and push, streamed and unary', async () => {
    const w = await as('worker');
    expect((await w.pull(pullReq, 5000)).dim).to.equal(4);
    expect((await w.push(pushReq, 5000)).rowsApplied).to.equal(3);
    expect((await w.pushUnary(pushReq, 5000)).rowsApplied).to.equal(3);
  });

  it('refuses a worker calling DropTable with PERMISSION_DENIED naming the role and the method; the table stays', async () => {
    const e = await failure((await as('worker')).adminCall('DropTable', { name: 'emb' }, 5000));
    expect(e.code).to.equal('TESSERA_ERR_PERMISSION_DENIED');
    expect(e.message).to.match(/role "worker" may not call DropTable/);
    expect((await (await as('chief')).adminCall<{ tables: unknown[] }>('Stats', {}, 5000)).tables).to.have.length(1);
  });

  it('lets serve pull but not push (read-only), on the stream too', async () => {
    const s = await as('serve');
    expect((await s.pull(pullReq, 5000)).dim).to.equal(4);
    const e = await failure(s.push(pushReq, 5000));
    expect(e.code).to.equal('TESSERA_ERR_PERMISSION_DENIED');
    expect(e.message).to.match(/role "serve" may not call PushStream/);
  });

  it('refuses a PS calling another PS and a chief pushing', async () => {
    expect((await failure((await as('ps')).pullUnary(pullReq, 5000))).message).to.match(/role "ps" may not call Pull/);
    expect((await failure((await as('chief')).pushUnary(pushReq, 5000))).message).to.match(/role "chief" may not call Push/);
  });

  it('refuses a worker of another job (same CA), naming both jobs: its client refuses the PS, and the PS refuses it', async () => {
    const e0 = await failure((await as('worker', 'other-job')).pull(pullReq, 5000));
    expect(e0.message).to.match(/the server belongs to job "ctr", not "other-job"/);
    const e = await failure((await connect(ca.openUnchecked(await ca.issue('worker', 'w-b', { job: 'other-job' })))).pull(pullReq, 5000));
    expect(e.code).to.equal('TESSERA_ERR_PERMISSION_DENIED');
    expect(e.message).to.match(/job "other-job", this server to job "ctr"/);
  });

  it('refuses a client without a certificate and one from another CA at the handshake', async () => {
    const plain = await failure((await connect(null)).adminCall('Stats', {}, 3000));
    expect(plain.code).to.equal('TESSERA_ERR_UNAVAILABLE');
    await sink.waitFor((l) => l.msg === 'TLS handshake refused' && l.code === 'ERR_SSL_WRONG_VERSION_NUMBER');
    const foreign = other.open(await other.issue('chief', 'c-1'));
    const e = await failure((await connect(foreign)).adminCall('Stats', {}, 3000));
    expect(e.code).to.equal('TESSERA_ERR_UNAVAILABLE');
  });

  it('refuses an expired client certificate: at start-up with its expiry date, and at the handshake', async () => {
    const expired = await ca.issue('worker', 'old', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
    expect(() => loadTlsConfig({}, { cert: expired.cert, key: expired.key, ca: ca.ca }))
      .to.throw(/expired at 2020-02-01T00:00:00\.000Z/);
    const e = await failure((await connect(ca.openUnchecked(expired))).pull(pullReq, 3000));
    expect(e.code).to.equal('TESSERA_ERR_UNAVAILABLE');
  });

  it('a client refuses a PS whose certificate expired, and says so', async () => {
    const expired = await ca.issue('ps', 'old', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
    const old = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), tls: ca.openUnchecked(expired), dataPlane });
    try {
      const c = dial(old.addr, ca.open(await ca.issue('worker', 'w-e')));
      conns.push(c);
      expect((await failure(c.pull(pullReq, 3000))).message).to.match(/certificate has expired/);
    } finally {
      await old.stop();
    }
  });

  it('follows rotation: the PS moves to a new CA and certificate without a restart', async () => {
    const next = await createTestCa('ctr');
    try {
      const files = ca.open(await ca.issue('ps', 'rot'), 100);
      const rotating = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), tls: files, dataPlane });
      const dial = (ctx: TlsContext) => {
        const c = new PsConnection({ addr: rotating.addr, maxMessageBytes: 1 << 20, credentials: ctx.channelCredentials() });
        conns.push(c);
        return c.adminCall('Stats', {}, 2000).then(() => true, () => false);
      };
      const oldChief = ca.open(await ca.issue('chief', 'c-old'));
      const newChief = next.open(await next.issue('chief', 'c-new'));
      expect(await dial(oldChief)).to.equal(true);
      expect(await dial(newChief)).to.equal(false);
      // cert-manager's way: new files replace the old ones in place.
      const fresh = await next.issue('ps', 'rot');
      renameSync(next.ca, ca.ca);
      renameSync(fresh.key, files.config.key);
      renameSync(fresh.cert, files.config.cert);
      // Each attempt is a new connection; the PS re-reads its files every 100 ms.
      const deadline = Date.now() + 10_000;
      while (!(await dial(newChief)) && Date.now() < deadline);
      expect(await dial(newChief)).to.equal(true);
      expect(await dial(oldChief)).to.equal(false);
      await rotating.stop();
    } finally {
      next.remove();
    }
  });

  it('a long-lived client follows rotation of its own files: its next connection presents the new certificate', async () => {
    // Two CAs of its own: the test before this one moved the suite's CA file.
    const old = await createTestCa('ctr');
    const next = await createTestCa('ctr');
    let second: PsServer | undefined;
    // A pull of a table the PS lacks answers UNKNOWN_TABLE once the handshake and the role check
    // passed. A PS just started may drop a first handshake before its certificate watcher has read
    // the files (UNAVAILABLE, which clients retry), so UNAVAILABLE is asked again for up to 10 s.
    const answer = async (c: PsConnection) => {
      const once = () => c.pull(pullReq, 3000).then(() => 'OK', (e: { code: string }) => e.code);
      const deadline = Date.now() + 10_000;
      let got = await once();
      while (got === 'TESSERA_ERR_UNAVAILABLE' && Date.now() < deadline) got = await once();
      return got;
    };
    try {
      const worker = old.open(await old.issue('worker', 'w-rot'), 100);
      const first = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), tls: old.open(await old.issue('ps', 'rot-1')), dataPlane });
      const c = dial(first.addr, worker);
      conns.push(c);
      expect(await answer(c)).to.equal('TESSERA_ERR_UNKNOWN_TABLE');
      // The worker's files move to the new CA in place; its watcher re-reads them every 100 ms.
      const fresh = await next.issue('worker', 'w-rot');
      const psFiles = next.open(await next.issue('ps', 'rot-2'));
      const before = worker.httpsClient().cert;
      copyFileSync(next.ca, `${worker.config.ca}.new`);
      renameSync(`${worker.config.ca}.new`, worker.config.ca);
      renameSync(fresh.key, worker.config.key);
      renameSync(fresh.cert, worker.config.cert);
      await until(() => !worker.httpsClient().cert.equals(before), 'the worker to re-read its files');
      // The PS restarts on the same address with a certificate of the new CA; the same connection
      // reconnects, so it must present (and trust) the new files, not those it started with.
      const port = Number(first.addr.split(':').pop());
      await first.stop();
      second = await startPsServer({ port, maxRequestBytes: 1 << 20, logger: silentLogger(), tls: psFiles, dataPlane });
      expect(await answer(c)).to.equal('TESSERA_ERR_UNKNOWN_TABLE');
      worker.close();
    } finally {
      await second?.stop();
      next.remove();
      old.remove();
    }
  });
});
