/**
 * Issue #7 part 5: the rendered `cpu` overlay's PS, chief and worker commands, run as real local
 * processes against a local etcd, form a cluster that trains. The only changes from what the
 * pods would run are the recorded local stand-ins (lib/local-substitution.ts): the entrypoint,
 * cluster addresses, container ports and mount paths. Proves the manifests' args are the ones
 * the real binaries accept and need.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from '../../src/runtime/args';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import type { Child } from '../../src/local/child';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';
import { freePortBlock } from '../helpers/ports';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import { changes, checkTrainingSubstitutions, cleanUpRun, planTrainingPods, RolePod, shutDownOnSigterm, trainJobToDone } from './lib/job-run';
import { LocalPlan, materializeVolumes, planLocal } from './lib/local-plan';
import { substitute, verifyLocal } from './lib/local-substitution';
import { findObject, renderOverlay, REPO_ROOT } from './lib/manifests';
import { dockerImageConfig, podProcess, podsOf } from './lib/pod-process';
import { spawnPod } from './lib/spawn-pod';
import { SERVE_SPEC } from '../../src/cli/serve';
import { waitForLogLine } from './lib/pod-log';
import { curl, publishTestModel, serveSpec, testInstances } from '../helpers/serve';

const ROWS = 20_000;
const CPU_OVERLAY = path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'cpu');

describe('deploy/k8s overlays/cpu, run as local processes: the manifests\' commands form a cluster that trains (issue #7)', function () {
  this.timeout(90_000); // about 15 s on 2 cores; the limit turns a hang into a failure
  let etcd: EtcdHandle | undefined;
  let root = '';
  let pods: RolePod[] = [];
  let plan: LocalPlan;

  before(async function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      console.warn(`  skipping: ${KUBECTL_SKIP_MESSAGE}`); // eslint-disable-line no-console
      this.skip();
    }
    requireEtcd(this);
    etcd = await startEtcd();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-k8s-run-'));
  });

  cleanUpRun(() => ({ root, pods, stop: async () => etcd?.stop() }));

  before(async () => {
    ({ pods, plan } = await planTrainingPods(renderOverlay(CPU_OVERLAY), root, new URL(etcd!.url).host));
  });

  it('renders every PS, chief and worker pod and substitutes only local addresses, ports and mount paths', () => {
    checkTrainingSubstitutions(pods, plan);
  });

  it('the PS, both chiefs and every worker train the job to done; every shard\'s rows are committed once; the model is saved; all exit 0', async () => {
    const client = createEtcdClient(etcd!.url);
    try {
      await trainJobToDone(pods, plan, root, client, ROWS, { scrape: plainScrape });
    } finally {
      client.close();
    }
  });
});

/** GET over plain HTTP. */
async function plainScrape(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** What may differ for a tessera serve pod run locally (see TRAINING_CHANGES in lib/job-run.ts). */
const SERVE_CHANGES = ['(program):entrypoint', '--model-root:path', '--port:port', '--grpc-port:port', '--metrics-port:port', 'env.TMPDIR:tmpdir'];

describe('deploy/k8s overlays/serving, run as local processes: both tessera serve replicas serve the model root (issue 14)', function () {
  this.timeout(60_000);
  let root = '';
  let serving: (RolePod & { child?: Child })[] = [];
  let plan: LocalPlan;

  before(async function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-k8s-serve-'));
    const ms = renderOverlay(path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'serving'));
    const w = findObject(ms, 'Deployment', 'tessera-serve');
    const image = dockerImageConfig(path.join(REPO_ROOT, 'Dockerfile'));
    const rendered = podsOf(w).map((pod) => podProcess(ms, w, pod, 'serve', image));
    plan = await planLocal(ms, rendered, { root: path.join(root, 'volumes'), entrypoint: { from: 'tessera', to: TESSERA_BIN }, standIns: [], freePort: freePortBlock });
    materializeVolumes(plan, rendered, ms);
    serving = rendered.map((r) => ({ role: 'serve', rendered: r, local: substitute(r, plan) }));
  });

  cleanUpRun(() => ({ root, pods: serving }));

  it('mounts the chief\'s model root read-only, becomes ready with the model loaded, answers, scrapes, stops on SIGTERM', async () => {
    expect(serving.map((p) => p.local.pod)).to.have.length(2);
    for (const p of serving) {
      expect(verifyLocal(p.rendered, p.local, plan), p.local.pod).to.deep.equal([]);
      expect(changes(p).sort(), `${p.local.pod}: substituted tokens`).to.deep.equal([...SERVE_CHANGES].sort());
      expect(p.rendered.mounts.find((m) => m.mountPath === '/checkpoints')).to.include({ volume: 'pvc/tessera-checkpoints', readOnly: true });
    }
    const args = parseArgs(serving[0].local.argv.slice(2), SERVE_SPEC).options as Record<string, string>;
    // What the chief publishes into the checkpoint volume's models/ (its --export-dir there).
    await publishTestModel(args['model-root'], { spec: serveSpec('ctr') });
    const logs = path.join(root, 'logs');
    fs.mkdirSync(logs);
    for (const p of serving) p.child = spawnPod(p.local, path.join(logs, `${p.local.pod}.log`));
    const answers: number[][] = [];
    for (const p of serving) {
      await waitForLogLine(p.child!, /"msg":"first scan done"/, 30_000);
      const port = (cp: number): number => plan.ports.get(p.local.pod)!.get(cp)!;
      const ready = await fetch(`http://127.0.0.1:${port(8501)}/v2/health/ready`);
      expect(ready.status, `${p.local.pod} readiness probe`).to.equal(200);
      const r = await curl('POST', `http://127.0.0.1:${port(8501)}/v1/models/ctr:predict`, JSON.stringify({ instances: testInstances(5) }));
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      answers.push(r.body.predictions);
      const ann = p.rendered.pod.annotations ?? {};
      const scraped = await fetch(`http://127.0.0.1:${port(Number(ann['prometheus.io/port']))}${ann['prometheus.io/path']}`);
      expect(await scraped.text()).to.match(/tessera_serve_ready\{[^}]*\} 1/);
    }
    expect(answers[1], 'both replicas serve the same version').to.deep.equal(answers[0]);
    const codes = await Promise.all(serving.map((p) => p.child!.stop()));
    expect(codes).to.deep.equal([0, 0]);
    expect(serving.filter((p) => !shutDownOnSigterm(p.child!)).map((p) => p.local.pod), 'exited before SIGTERM').to.deep.equal([]);
  });
});
