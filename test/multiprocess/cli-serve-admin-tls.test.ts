/**
 * Issue #16 on `tessera serve status|rollback|label`: a real `tessera serve` started with
 * `--tls-*` (HTTPS, client certificates of the job required) is driven by the admin commands with
 * the same three flags and an admin certificate of the job; without them, with a certificate of
 * another CA or of another job, the command exits 2 with one line saying why, and the labels on
 * disk are unchanged when the flags themselves are wrong.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLabels } from '../../src/export/model-labels';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { lastJson, runTessera } from '../helpers/tessera';
import { curl, CurlTls, publishTestModel, testInstances } from '../helpers/serve';
import { spawnNode, Spawned } from '../helpers/spawn';
import { createTestCa, TestCa } from '../helpers/tls';

describe('tessera serve status|rollback|label against a mutual-TLS serve (issue #16)', function () {
  this.timeout(90_000);
  let root = '';
  let ca: TestCa;
  let other: TestCa;
  let serve: Spawned | undefined;
  let url = '';
  let grpcAddr = '';
  let admin: CurlTls;
  let adminFlags: string[] = [];

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-admin-tls-'));
    await publishTestModel(root, { seed: 1 });
    await publishTestModel(root, { seed: 2 });
    ca = await createTestCa('ctr');
    other = await createTestCa('ctr');
    const served = await ca.issue('serve', 'serve-0');
    const issued = await ca.issue('admin', 'ops');
    admin = { ca: ca.ca, cert: issued.cert, key: issued.key };
    adminFlags = ['--tls-cert', issued.cert, '--tls-key', issued.key, '--tls-ca', ca.ca];
    serve = spawnNode(TESSERA_BIN, ['serve', '--model-root', root, '--port', '0', '--grpc-port', '0', '--json', '--tls-cert', served.cert, '--tls-key', served.key, '--tls-ca', ca.ca]);
    ({ rest: url, grpc: grpcAddr } = JSON.parse(await serve.waitForLine(/^\{"rest":/, 30_000)) as { rest: string; grpc: string });
    await serve.waitForLine(/"msg":"first scan done"/, 30_000);
  });

  after(async () => {
    await serve?.kill();
    fs.rmSync(root, { recursive: true, force: true });
    ca?.remove();
    other?.remove();
  });

  const version = async (p = ':predict'): Promise<string> => (await curl('POST', `${url}/v1/models/srv${p}`, JSON.stringify({ instances: testInstances(2) }), admin)).body.model_version;

  it('status, rollback and label reach the HTTPS server with an admin certificate of the job', async () => {
    expect(url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await runTessera(['serve', 'status', '--server', url, '--json', ...adminFlags]);
    expect(status.code, status.stderr).to.equal(0);
    expect(lastJson(status.stdout).models[0]).to.deep.include({ name: 'srv', default_version: 2, on_disk: [1, 2] });

    const rb = await runTessera(['serve', 'rollback', '--model', 'srv', '--to', '1', '--model-root', root, '--server', url, ...adminFlags]);
    expect(rb.code, rb.stderr).to.equal(0);
    expect(rb.stdout).to.equal('srv: stable → 1\n');
    expect(await version(), 'the server applied the rollback before the command returned').to.equal('1');

    const lb = await runTessera(['serve', 'label', '--model', 'srv', '--set', 'canary=2', '--model-root', root, '--server', url, '--json', ...adminFlags]);
    expect(lb.code, lb.stderr).to.equal(0);
    expect(lastJson(lb.stdout)).to.deep.include({ model: 'srv', labels: { stable: 1, canary: 2 } });
    expect(lastJson(lb.stdout).servers[url]).to.deep.equal({ default_version: 1 });
    expect(await version('/labels/canary:predict')).to.equal('2');

    // The same flags from the environment (TESSERA_TLS_*), as the role processes read them.
    const env = { TESSERA_TLS_CERT: admin.cert!, TESSERA_TLS_KEY: admin.key!, TESSERA_TLS_CA: ca.ca };
    const text = await runTessera(['serve', 'status', '--server', url], { env });
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/v1 \[stable\] default/).and.match(/v2 \[canary\]/);
  });

  it('refuses, in one line (exit 2), a call without a certificate, with another CA\'s, or with another job\'s', async () => {
    const stranger = await other.issue('admin', 'ops');
    const foreignJob = await ca.issue('admin', 'ops', { job: 'other' });
    const cases: [string[], RegExp][] = [
      [[], /is HTTPS: give --tls-cert, --tls-key and --tls-ca/],
      [['--tls-cert', admin.cert!, '--tls-key', admin.key!], /TLS needs --tls-cert, --tls-key and --tls-ca together; missing --tls-ca/],
      // Our CA does not trust the server's certificate (and the server would not trust ours).
      [['--tls-cert', stranger.cert, '--tls-key', stranger.key, '--tls-ca', other.ca], /\/status: .*(certificate|self.signed)/i],
      [['--tls-cert', foreignJob.cert, '--tls-key', foreignJob.key, '--tls-ca', ca.ca], /the server belongs to job "ctr", not "other"/],
    ];
    for (const [flags, re] of cases) {
      const r = await runTessera(['serve', 'status', '--server', url, ...flags]);
      expect(r.code, flags.join(' ')).to.equal(2);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr, flags.join(' ')).to.match(re);
    }
    const before = readLabels(root, 'srv');
    const noCert = await runTessera(['serve', 'rollback', '--model', 'srv', '--to', '2', '--model-root', root, '--server', url, '--tls-cert', admin.cert!]);
    expect(noCert.code).to.equal(2);
    expect(noCert.stderr).to.match(/missing --tls-key, --tls-ca/);
    expect(readLabels(root, 'srv'), 'a refused command leaves the labels as they were').to.deep.equal(before);
  });

  // The exec probes of deploy/k8s/tls: the kubelet's own gRPC and HTTPS probes have no certificate.
  it('tessera health asks the mutual-TLS ports with a certificate of the job: 0 when serving, 1 when refused', async () => {
    const ok = await runTessera(['health', '--addr', grpcAddr, ...adminFlags]);
    expect(ok.code, ok.stderr).to.equal(0);
    const ready = await runTessera(['health', '--url', `${url}/v2/health/ready`, ...adminFlags]);
    expect(ready.code, ready.stderr).to.equal(0);
    const stranger = await other.issue('worker', 'w');
    const refused = await runTessera(['health', '--addr', grpcAddr, '--tls-cert', stranger.cert, '--tls-key', stranger.key, '--tls-ca', other.ca]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr.trim().split('\n')).to.have.length(1);
    const plain = await runTessera(['health', '--addr', grpcAddr, '--timeout-ms', '2000']);
    expect(plain.code, 'a plaintext probe of a mutual-TLS port fails').to.equal(1);
    const unknown = await runTessera(['health', '--addr', grpcAddr, '--service', 'nope', ...adminFlags]);
    expect(unknown.code).to.equal(1);
  });
});
