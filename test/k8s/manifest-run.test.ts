/**
 * Issue #7 part 5: the rendered `cpu` overlay's PS, chief and worker commands, run as real local
 * processes against a local etcd, form a cluster that trains. The only changes from what the
 * pods would run are the recorded local stand-ins (lib/local-substitution.ts): the entrypoint,
 * cluster addresses, container ports and mount paths. Proves the manifests' args are the ones
 * the real binaries accept and need.
 */
import { expect } from 'chai';
import { Etcd3 } from 'etcd3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from '../../src/runtime/args';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { CHIEF_SPEC } from '../../src/cli/chief';
import { silentLogger } from '../../src/common/logger';
import { Signal } from '../../src/common/signal';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { JobResult } from '../../src/control/job-types';
import type { Child } from '../../src/local/child';
import { shardLedger, syntheticData } from '../helpers/cluster';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';
import { freePort } from '../helpers/ports';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import { LocalPlan, materializeVolumes, planLocal } from './lib/local-plan';
import { LocalProcess, substitute, verifyLocal } from './lib/local-substitution';
import { K8sObject, Manifest, renderOverlay, REPO_ROOT } from './lib/manifests';
import { dockerImageConfig, podProcess, PodProcess, podsOf } from './lib/pod-process';
import { spawnPod } from './lib/spawn-pod';
import { listVersions } from '../../src/export/model-root';
import { SERVE_SPEC } from '../../src/cli/serve';
import { waitForLogLine } from './lib/pod-log';
import { curl, publishTestModel, serveSpec, testInstances } from '../helpers/serve';

const ROWS = 20_000;
const CPU_OVERLAY = path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'cpu');

/** The workloads run here, by role: workload kind/name and container name. */
const ROLES = [
  { role: 'ps', kind: 'StatefulSet', name: 'tessera-ps' },
  { role: 'chief', kind: 'Deployment', name: 'tessera-chief' },
  { role: 'worker', kind: 'Job', name: 'tessera-worker' },
] as const;

/**
 * What may differ per role: `<flag before the token>:<kind>` for argv, `env.<NAME>:<kind>` for
 * the environment. Anything else that changes fails the test.
 */
const EXPECTED_CHANGES: Record<string, string[]> = {
  ps: ['(program):entrypoint', '--etcd:endpoint', '--port:port', '--checkpoint-root:path', '--advertise:endpoint', '--metrics-port:port', 'env.TESSERA_ETCD:endpoint', 'env.TMPDIR:tmpdir'],
  chief: ['(program):entrypoint', '--etcd:endpoint', '--spec:path', '--data:path', '--eval:path', '--checkpoint-dir:path', '--export-dir:path', '--port:port', '--metrics-port:port',
    'env.TESSERA_ETCD:endpoint', 'env.TMPDIR:tmpdir'],
  worker: ['(program):entrypoint', '--etcd:endpoint', '--port:port', '--metrics-port:port', 'env.TESSERA_ETCD:endpoint', 'env.TMPDIR:tmpdir'],
};

interface RolePod {
  role: string;
  rendered: PodProcess;
  local: LocalProcess;
  child?: Child;
}

function workload(ms: Manifest[], kind: string, name: string): K8sObject {
  const m = ms.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  if (!m) throw new Error(`${kind}/${name} not rendered`);
  return m.obj;
}

function changes(p: RolePod): string[] {
  return p.local.substitutions.map((s) => {
    const i = /^argv\[(\d+)\]$/.exec(s.where);
    return `${i ? (i[1] === '0' ? '(program)' : p.rendered.argv[Number(i[1]) - 1]) : s.where}:${s.kind}`;
  });
}

/** True when the process logged shutting down on SIGTERM (chief, PS: `{"signal":"SIGTERM","msg":"shutting down"}`). */
function shutDownOnSigterm(c: Child): boolean {
  return fs.readFileSync(c.logFile, 'utf8').split('\n').some((line) => {
    try {
      const rec = JSON.parse(line) as { signal?: string; msg?: string };
      return rec.signal === 'SIGTERM' && String(rec.msg).startsWith('shutting down');
    } catch {
      return false;
    }
  });
}

function logTail(c: Child): string {
  const text = fs.existsSync(c.logFile) ? fs.readFileSync(c.logFile, 'utf8') : '';
  return `--- ${c.name} (${c.logFile}) ---\n${text.split('\n').slice(-15).join('\n')}`;
}

describe('deploy/k8s overlays/cpu, run as local processes: the manifests\' commands form a cluster that trains (issue #7)', function () {
  this.timeout(90_000); // about 15 s on 2 cores; the limit turns a hang into a failure
  let etcd: EtcdHandle | undefined;
  let root = '';
  let pods: RolePod[] = [];
  let keep = false;
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

  afterEach(function () {
    if (this.currentTest?.state === 'failed') keep = true;
  });

  after(async () => {
    await Promise.all(pods.map((p) => p.child?.kill()));
    await etcd?.stop();
    if (root && !keep) fs.rmSync(root, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    else if (root) console.warn(`  logs and volumes kept in ${root}`);
  });

  before(async () => {
    const ms = renderOverlay(CPU_OVERLAY);
    const image = dockerImageConfig(path.join(REPO_ROOT, 'Dockerfile'));
    const rendered = ROLES.flatMap((r) => {
      const w = workload(ms, r.kind, r.name);
      const c = w.spec.template.spec.containers.find((x: K8sObject) => x.name === r.role);
      expect(c?.image, `${r.name}: the CPU image built from Dockerfile`).to.match(/^tessera:/);
      // Every replica the manifest asks for: 2 PS, 2 chiefs (one leads), the Job's parallelism (4).
      return podsOf(w).map((pod) => ({ role: r.role, rendered: podProcess(ms, w, pod, r.role, image) }));
    });
    const etcdSts = workload(ms, 'StatefulSet', 'tessera-etcd');
    const clientPort = etcdSts.spec.template.spec.containers[0].ports.find((p: K8sObject) => p.name === 'client').containerPort;
    plan = await planLocal(ms, rendered.map((p) => p.rendered), {
      root: path.join(root, 'volumes'),
      entrypoint: { from: 'tessera', to: TESSERA_BIN },
      standIns: [{ workload: 'tessera-etcd', containerPort: clientPort, to: new URL(etcd!.url).host }],
      freePort,
    });
    materializeVolumes(plan, rendered.map((p) => p.rendered), ms);
    pods = rendered.map((p) => ({ ...p, local: substitute(p.rendered, plan) }));
  });

  it('renders every PS, chief and worker pod and substitutes only local addresses, ports and mount paths', () => {
    expect(pods.map((p) => p.role)).to.deep.equal(['ps', 'ps', 'chief', 'chief', 'worker', 'worker', 'worker', 'worker']);
    for (const p of pods) {
      expect(p.rendered.argv.join(' '), `${p.local.pod}: every $(VAR) resolves`).not.to.contain('$(');
      expect(verifyLocal(p.rendered, p.local, plan), p.local.pod).to.deep.equal([]);
      expect(changes(p).sort(), `${p.local.pod}: substituted tokens`).to.deep.equal([...EXPECTED_CHANGES[p.role]].sort());
      expect(JSON.stringify([p.local.argv, p.local.env]), `${p.local.pod}: no cluster name survives`).not.to.match(/tessera-(etcd|ps)-\d\.tessera-/);
    }
    const ps1 = pods[1].local;
    const at = (l: LocalProcess, flag: string): string => l.argv[l.argv.indexOf(flag) + 1];
    expect(at(ps1, '--advertise'), 'ps-1 advertises its own local port').to.equal(`127.0.0.1:${at(ps1, '--port')}`);
  });

  it('the PS, both chiefs and every worker train the job to done; every shard\'s rows are committed once; the model is saved; all exit 0', async () => {
    const chiefLocal = pods.find((p) => p.role === 'chief')!.local;
    const chiefArgs = parseArgs(chiefLocal.argv.slice(2), CHIEF_SPEC).options as Record<string, string>;
    // Synthetic Criteo-format rows at the paths the chief's --data and --eval name (on the data volume).
    const data = await syntheticData(ROWS);
    fs.copyFileSync(data.train, chiefArgs.data);
    fs.copyFileSync(data.evalFile, chiefArgs.eval);
    fs.rmSync(data.dir, { recursive: true, force: true });
    const logs = path.join(root, 'logs');
    fs.mkdirSync(logs);
    // All at once, as Kubernetes starts them; roles wait for each other through etcd.
    for (const p of pods) p.child = spawnPod(p.local, path.join(logs, `${p.local.pod}.log`));
    const job = chiefLocal.env.TESSERA_JOB;

    const client = new Etcd3({ hosts: etcd!.url });
    const store = new EtcdJobStore({ client, job, logger: silentLogger() });
    try {
      const result = await awaitDone(store, pods.map((p) => p.child!), 60_000);
      expect(result.samples, 'one epoch over every row').to.equal(ROWS);
      expect(result.auc).to.be.a('number');
      const status = (await store.status())!;
      const chiefs = pods.filter((p) => p.role === 'chief');
      expect(chiefs.map((c) => c.local.pod), 'a chief pod leads').to.include(status.chief);

      const ledger = await shardLedger(await store.snapshot());
      expect(ledger.length).to.be.greaterThan(1);
      for (const s of ledger) {
        expect(s.done, `shard ${s.shard} done`).to.equal(true);
        expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
      }
      expect(ledger.reduce((n, s) => n + s.actual, 0)).to.equal(ROWS);
      const workersUsed = new Set(ledger.map((s) => s.worker));
      expect([...workersUsed].every((w) => /^worker-[0-3]$/.test(w)), [...workersUsed].join(',')).to.equal(true);

      // The final consistent checkpoint lives on the checkpoint PVC, beside the saved model.
      expect(path.dirname(result.checkpoint!)).to.equal(chiefArgs['checkpoint-dir']);
      expect(fs.existsSync(path.join(result.checkpoint!, 'manifest.json')), 'the final checkpoint\'s manifest').to.equal(true);
      const modelDir = path.join(chiefArgs['checkpoint-dir'], 'model');
      expect(fs.readdirSync(modelDir).length, 'files in the saved model').to.be.greaterThan(0);
      // Issue 14: the chief publishes the job's model as version 1 where tessera serve reads it.
      expect(listVersions(chiefArgs['export-dir'], 'ctr'), 'versions published for serving').to.deep.equal([1]);
      expect(result.model_version).to.equal(1);

      // Workers complete the Indexed Job by exiting 0 on their own; PS and chiefs exit 0 on SIGTERM.
      const workers = pods.filter((p) => p.role === 'worker').map((p) => p.child!);
      expect(await Promise.all(workers.map((w) => w.exited)), 'worker exit codes').to.deep.equal(workers.map(() => 0));
      // Prometheus scrapes the annotated port of every pod still running: it serves /metrics.
      for (const p of pods.filter((x) => x.role !== 'worker')) {
        const ann = p.rendered.pod.annotations ?? {};
        const port = plan.ports.get(p.local.pod)?.get(Number(ann['prometheus.io/port']));
        const res = await fetch(`http://127.0.0.1:${port}${ann['prometheus.io/path']}`);
        expect(res.status, `${p.local.pod} /metrics on the scraped port`).to.equal(200);
        expect(await res.text()).to.contain('process_cpu');
      }
      const rest = pods.filter((p) => p.role !== 'worker').map((p) => p.child!);
      const codes = await Promise.all(rest.map((c) => c.stop()));
      expect(codes, rest.map((c) => c.name).join(', ')).to.deep.equal(rest.map(() => 0));
      // Each was still running when SIGTERM came (a Deployment or StatefulSet restarts a container
      // that exits by itself): its log says it shut down on the signal.
      expect(rest.filter((c) => !shutDownOnSigterm(c)).map((c) => c.name), 'exited before SIGTERM').to.deep.equal([]);
      expect(workers.filter(shutDownOnSigterm).map((c) => c.name), 'workers stopped by a signal').to.deep.equal([]);
    } catch (err) {
      (err as Error).message += `\n${pods.map((p) => logTail(p.child!)).join('\n')}`;
      throw err;
    } finally {
      client.close();
    }
  });
});

/**
 * The job's result once the chief's `status` says done. Woken by job-store changes and process
 * exits (the 500 ms tick is a safety net for the status key, which the watch does not cover);
 * fails as soon as a PS or chief exits or a worker exits non-zero.
 */
async function awaitDone(store: EtcdJobStore, children: Child[], timeoutMs: number): Promise<JobResult> {
  const wake = new Signal();
  const watch = await store.watch(() => wake.notify());
  for (const c of children) void c.exited.then(() => wake.notify());
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const s = await store.status();
      if (s?.phase === 'done' && s.result) return s.result;
      const dead = children.find((c) => !c.running && (c.proc.exitCode !== 0 || !/^tessera-worker-/.test(c.name)));
      if (dead) throw new Error(`${dead.name} exited (${dead.proc.exitCode ?? dead.proc.signalCode}) before the job was done`);
      if (Date.now() > deadline) throw new Error(`job not done after ${timeoutMs} ms; last status ${JSON.stringify(s)}`);
      await wake.wait(500);
    }
  } finally {
    await watch.stop();
  }
}

/** What may differ for a tessera serve pod run locally (see EXPECTED_CHANGES). */
const SERVE_CHANGES = ['(program):entrypoint', '--model-root:path', '--port:port', '--grpc-port:port', '--metrics-port:port', 'env.TMPDIR:tmpdir'];

describe('deploy/k8s overlays/serving, run as local processes: both tessera serve replicas serve the model root (issue 14)', function () {
  this.timeout(60_000);
  let root = '';
  let serving: (RolePod & { child?: Child })[] = [];
  let plan: LocalPlan;
  let keep = false;

  before(async function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-k8s-serve-'));
    const ms = renderOverlay(path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'serving'));
    const w = workload(ms, 'Deployment', 'tessera-serve');
    const image = dockerImageConfig(path.join(REPO_ROOT, 'Dockerfile'));
    const rendered = podsOf(w).map((pod) => podProcess(ms, w, pod, 'serve', image));
    plan = await planLocal(ms, rendered, { root: path.join(root, 'volumes'), entrypoint: { from: 'tessera', to: TESSERA_BIN }, standIns: [], freePort });
    materializeVolumes(plan, rendered, ms);
    serving = rendered.map((r) => ({ role: 'serve', rendered: r, local: substitute(r, plan) }));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') keep = true;
  });

  after(async () => {
    await Promise.all(serving.map((p) => p.child?.kill()));
    if (root && !keep) fs.rmSync(root, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    else if (root) console.warn(`  logs and volumes kept in ${root}`);
  });

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
