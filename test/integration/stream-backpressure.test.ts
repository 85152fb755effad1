/**
 * Issue 23, item 9, on the data plane: a PullStream whose client sends requests but does not
 * read the answers. Before the fix the PS answered every request it received, queueing the
 * answers in memory (300 requests: 300 answers, ~40 MB, queued for a client that might never
 * read them). Now it stops reading requests once grpc-js's buffer of unread answers is full,
 * counts the pause (tessera_ps_stream_pauses_total), and goes on when the client reads.
 *
 * The client is raw HTTP/2, so "not reading" reaches the server as HTTP/2 flow control.
 */
import * as http2 from 'node:http2';
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { createMetrics } from '../../src/metrics/registry';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { encodePullRequest, Encoding } from '../../src/wire/data-plane-codec';
import { DATA_PLANES } from '../../src/wire/grpc-options';

const REQUESTS = 300;
const IDS = 4096; // dim 8: 128 KiB per answer

function frame(b: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(b.length, 1);
  return Buffer.concat([h, b]);
}

/** Resolves once `read()` is at least `min`, checking every 20 ms (the server's progress is in another event). */
async function until(read: () => Promise<number>, min: number, what: string): Promise<number> {
  for (const t0 = Date.now(); Date.now() - t0 < 10_000;) {
    const v = await read();
    if (v >= min) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what} >= ${min}`);
}

// Issue 18: on both data planes (grpc-js, and gRPC framing on node:http2; ADR 0038).
for (const dataPlane of DATA_PLANES) describe(`a data-plane stream stops reading while its answers are not read (issue 23), data plane ${dataPlane}`, function () {
  this.timeout(30_000);
  let ps: PsServer;
  let session: http2.ClientHttp2Session;

  afterEach(async () => {
    session?.destroy();
    await ps?.stop();
  });

  it('pauses after a bounded number of unread answers, then answers every request once the client reads', async () => {
    const { registry } = createMetrics({ job: 't', role: 'ps', id: 'ps-0' });
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), metrics: registry, dataPlane });
    ps.node.createTable({ name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'sgd', lr: 1 } });
    session = http2.connect(`http://${ps.addr}`);
    const req = session.request({ ':method': 'POST', ':path': '/tessera.v1.ParameterServer/PullStream', 'content-type': 'application/grpc', te: 'trailers' });
    req.pause();
    const ids = Buffer.from(Uint32Array.from({ length: 2 * IDS }, (_, i) => (i % 2 === 0 ? i + 1 : 0)).buffer);
    for (let i = 1; i <= REQUESTS; i++) req.write(frame(encodePullRequest({ table: 'emb', shardMapVersion: 0, ids, encoding: Encoding.F32, requestId: i })));
    req.end();

    const pauses = async () => (await registry.getSingleMetric('tessera_ps_stream_pauses_total')!.get()).values.find((v) => v.labels.op === 'pull')?.value ?? 0;
    await until(pauses, 1, 'stream pauses');
    const servedWhilePaused = ps.node.counters.pulls;
    expect(servedWhilePaused, 'pulls answered while the client read nothing').to.be.lessThan(REQUESTS / 4);

    let bytes = 0;
    const status = new Promise<string | undefined>((resolve) => req.on('trailers', (t) => resolve(t['grpc-status'] as string)));
    req.on('data', (d: Buffer) => { bytes += d.length; });
    req.resume();
    expect(await status).to.equal('0');
    expect(ps.node.counters.pulls).to.equal(REQUESTS);
    expect(bytes, 'every answer arrived').to.be.greaterThan(REQUESTS * IDS * 8 * 4);
  });
});
