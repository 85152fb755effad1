/**
 * Issue 14: `tessera serve` as a real process: it prints where it listens, becomes ready once its
 * versions are loaded, answers curl, reports itself through `tessera serve status` (from the
 * server, and from the model root), exits 0 on SIGTERM, and refuses bad flags with one line.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { lastJson, runTessera } from '../helpers/tessera';
import { curl, publishTestModel, testInstances } from '../helpers/serve';
import { spawnNode, Spawned } from '../helpers/spawn';

describe('tessera serve (real process) and tessera serve status (issue 14)', function () {
  this.timeout(60_000);
  let root = '';
  let serve: Spawned | undefined;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-cli-serve-'));
    await publishTestModel(root, { seed: 1 });
    await publishTestModel(root, { seed: 2 });
  });

  after(async () => {
    await serve?.kill();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('serves the root: ready, predictions, status from the server and from the root, clean exit on SIGTERM', async () => {
    serve = spawnNode(TESSERA_BIN, ['serve', '--model-root', root, '--port', '0', '--grpc-port', '0', '--metrics-port', '0', '--version-policy', 'latest:2', '--json']);
    const where = JSON.parse(await serve.waitForLine(/^\{"rest":/, 30_000)) as { rest: string; grpc: string; metrics: string };
    expect(where.grpc).to.match(/^127\.0\.0\.1:\d+$/);
    await serve.waitForLine(/"msg":"first scan done"/, 30_000);
    expect((await curl('GET', `${where.rest}/v2/health/ready`)).status).to.equal(200);
    const r = await curl('POST', `${where.rest}/v1/models/srv:predict`, JSON.stringify({ instances: testInstances(4) }));
    expect(r.status).to.equal(200);
    expect(r.body.model_version).to.equal('2');

    const live = await runTessera(['serve', 'status', '--server', where.rest, '--json']);
    expect(live.code, live.stderr).to.equal(0);
    const s = lastJson(live.stdout);
    expect(s.models[0].versions.map((v: { version: number }) => v.version)).to.deep.equal([1, 2]);
    expect(s.models[0].versions[1].traffic.requests).to.equal(1);
    const text = await runTessera(['serve', 'status', '--server', where.rest]);
    expect(text.stdout).to.match(/srv: default version 2, labels none, on disk 1, 2/);
    expect(text.stdout).to.match(/v2 default: loaded .* 1 requests \/ 4 rows/);
    const persisted = await runTessera(['serve', 'status', '--model-root', root, '--json']);
    expect(lastJson(persisted.stdout)).to.deep.equal({ root, models: [{ name: 'srv', versions: [1, 2], labels: {} }] });
    // ADR 0018's labels (tessera_job, not job) and build info naming the backend it predicts on.
    const metrics = await (await fetch(where.metrics)).text();
    expect(metrics).to.match(/tessera_serve_requests_total\{model="srv",version="2",label="",protocol="rest",code="200",tessera_job="standalone",role="serve",id="serve-\d+"\} 1/);
    expect(metrics).to.match(/tessera_build_info\{version="[^"]+",backend="(?!none")[a-z0-9]+",tessera_job="standalone",role="serve",id="serve-\d+"\} 1/);

    expect(await serve.kill('SIGTERM')).to.deep.equal({ code: 0, signal: null });
    expect(serve.lines.some((l) => /"signal":"SIGTERM","msg":"shutting down"/.test(l))).to.equal(true);
  });

  it('tessera serve rollback and label: applied by the running server at once, kept by a restarted one', async () => {
    const startServer = async (): Promise<string> => {
      serve = spawnNode(TESSERA_BIN, ['serve', '--model-root', root, '--port', '0', '--json']);
      const url = (JSON.parse(await serve.waitForLine(/^\{"rest":/, 30_000)) as { rest: string }).rest;
      await serve.waitForLine(/"msg":"first scan done"/, 30_000);
      return url;
    };
    const version = async (url: string, p = ':predict'): Promise<string> => (await curl('POST', `${url}/v1/models/srv${p}`, JSON.stringify({ instances: testInstances(2) }))).body.model_version;
    let url = await startServer();
    expect(await version(url)).to.equal('2');
    const rb = await runTessera(['serve', 'rollback', '--model', 'srv', '--to', '1', '--model-root', root, '--server', url]);
    expect(rb.code, rb.stderr).to.equal(0);
    expect(rb.stdout).to.equal('srv: stable → 1\n');
    expect(await version(url), 'in effect when the command returns').to.equal('1');
    await serve!.kill('SIGTERM');
    url = await startServer();
    expect(await version(url), 'a restarted server keeps the rollback').to.equal('1');
    const lb = await runTessera(['serve', 'label', '--model', 'srv', '--set', 'canary=2', '--model-root', root, '--server', url, '--json']);
    expect(lb.code, lb.stderr).to.equal(0);
    expect(lastJson(lb.stdout)).to.deep.include({ model: 'srv', labels: { stable: 1, canary: 2 } });
    expect(await version(url, '/labels/canary:predict')).to.equal('2');
    const status = await runTessera(['serve', 'status', '--server', url]);
    expect(status.stdout).to.match(/v1 \[stable\] default/).and.match(/v2 \[canary\]/);
    const bad = await runTessera(['serve', 'rollback', '--model', 'srv', '--to', '9', '--model-root', root]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--to: version 9 of srv is not in .* \(versions: 1, 2\)/);
    const unset = await runTessera(['serve', 'label', '--model', 'srv', '--remove', 'stable,canary', '--model-root', root, '--server', url]);
    expect(unset.code, unset.stderr).to.equal(0);
    expect(await version(url), 'without labels the newest serves').to.equal('2');
  });

  it('refuses bad flags with one line naming the flag (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['serve'], /tessera serve needs --model-root ROOT/],
      [['serve', '--model-root', root, '--version-policy', 'newest'], /--version-policy "newest": unknown policy "newest"/],
      [['serve', '--model-root', root, '--split', 'stable=90,canary'], /--split "stable=90,canary": "canary" is not label=weight/],
      [['serve', '--model-root', root, '--unknown-fields', 'drop'], /--unknown-fields must be reject or ignore/],
      [['serve', '--model-root', root, '--max-resident-bytes', '12 parsecs'], /--max-resident-bytes must be a positive byte count/],
      [['serve', 'status', '--server', 'http://127.0.0.1:1'], /http:\/\/127\.0\.0\.1:1\/status: connect ECONNREFUSED/],
      [['serve', 'restart'], /unknown subcommand "restart"/],
    ];
    for (const [args, re] of cases) {
      const r = await runTessera(args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(r.stderr, args.join(' ')).to.match(re);
    }
  });
});
