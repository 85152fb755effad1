/**
 * Issue #16 on serving (issue 14): with `--tls-*`, `tessera serve`'s REST port is HTTPS and both
 * its ports require a client certificate from the job's CA; Predict is open to every role of the
 * job (prediction callers hold a certificate of the CA), another job's certificate gets 403 (REST)
 * or PERMISSION_DENIED (gRPC); /metrics is HTTPS with client certificates when asked. Clients:
 * curl and grpc-js with real certificates.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { ERROR_CODES } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { serveMetrics } from '../../src/metrics/http';
import { selectBackend } from '../../src/model/backend';
import { ModelServer } from '../../src/serve/model-server';
import { predictionService } from '../../src/wire/services';
import { fromServiceError } from '../../src/wire/status-map';
import type { TlsContext } from '../../src/wire/tls';
import { curl, CurlTls, publishTestModel, testInstances } from '../helpers/serve';
import { createTestCa, TestCa } from '../helpers/tls';

describe('tessera serve with mutual TLS: HTTPS REST, gRPC Predict and /metrics (issue #16)', function () {
  this.timeout(30_000);
  let root = '';
  let ca: TestCa;
  let serveTls: TlsContext;
  let server: ModelServer | undefined;
  let app: CurlTls;
  let grpcAddr = '';

  before(async () => {
    await selectBackend(silentLogger());
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-tls-'));
    await publishTestModel(root, { seed: 3 });
    ca = await createTestCa('ctr');
    serveTls = ca.open(await ca.issue('serve', 'serve-0'));
    server = await ModelServer.start({ root, host: '127.0.0.1', port: 0, pollMs: 0, tls: serveTls }, { logger: silentLogger(), registry: new Registry() });
    await server.registry.rescan();
    grpcAddr = (await server.startGrpc('127.0.0.1', 0)).addr;
    const issued = await ca.issue('serve', 'ranking-app');
    app = { ca: ca.ca, cert: issued.cert, key: issued.key };
  });
  after(async () => {
    await server?.close();
    serveTls?.close();
    fs.rmSync(root, { recursive: true, force: true });
    ca?.remove();
  });

  it('REST is HTTPS: a client with a certificate of the job predicts; one without is refused at the handshake', async () => {
    expect(server!.rest.url).to.match(/^https:\/\//);
    expect((await curl('GET', `${server!.rest.url}/v2/health/ready`, undefined, app)).status).to.equal(200);
    const res = await curl('POST', `${server!.rest.url}/v1/models/srv:predict`, JSON.stringify({ instances: testInstances(3) }), app);
    expect(res.status).to.equal(200);
    expect(res.body.predictions).to.have.length(3);
    const bare = await curl('GET', `${server!.rest.url}/v2/health/ready`, undefined, { ca: ca.ca }).then(() => null, (e: Error) => e);
    expect(bare?.message).to.match(/curl exited/);
  });

  it('REST answers 403 to a certificate of another job, naming both jobs', async () => {
    const other = await ca.issue('serve', 'app-b', { job: 'other' });
    const res = await curl('GET', `${server!.rest.url}/v2/health/ready`, undefined, { ca: ca.ca, cert: other.cert, key: other.key });
    expect(res.status).to.equal(403);
    expect(res.body.error).to.match(/job "other", this server to job "ctr"/);
  });

  it('gRPC Predict is open to every role of the job and refused to another job and to plaintext', async () => {
    const predict = async (creds: grpc.ChannelCredentials) => {
      const client = new (predictionService())(grpcAddr, creds) as unknown as grpc.Client & { Predict: Function };
      try {
        return await new Promise<unknown>((resolve, reject) => client.Predict({ model: 'absent' }, { deadline: Date.now() + 10_000 },
          (e: grpc.ServiceError | null) => (e ? reject(fromServiceError(e, grpcAddr)) : resolve(null))));
      } catch (err) {
        return (err as { code: string; message: string });
      } finally {
        client.close();
      }
    };
    for (const role of ['worker', 'serve', 'admin'] as const) {
      // Authorized: the call reaches the service, which knows no model "absent".
      const res = await predict(ca.open(await ca.issue(role, `${role}-p`)).channelCredentials()) as { code: string };
      expect(res.code, role).to.equal(ERROR_CODES.UNKNOWN_MODEL);
    }
    const other = await predict(ca.openUnchecked(await ca.issue('worker', 'w-other', { job: 'other' })).channelCredentials()) as { code: string };
    expect(other.code).to.equal(ERROR_CODES.PERMISSION_DENIED);
    expect((await predict(grpc.credentials.createInsecure()) as { code: string }).code).to.equal(ERROR_CODES.UNAVAILABLE);
  });

  it('/metrics over HTTPS (--metrics-tls): a scraper with a certificate of the job reads it, one without is refused', async () => {
    const registry = new Registry();
    const m = await serveMetrics(registry, { port: 0, tls: serveTls });
    try {
      expect(m.url).to.match(/^https:\/\//);
      expect((await curl('GET', m.url, undefined, app)).status).to.equal(200);
      const bare = await curl('GET', m.url, undefined, { ca: ca.ca }).then(() => null, (e: Error) => e);
      expect(bare?.message).to.match(/curl exited/);
    } finally {
      await m.close();
    }
  });
});
