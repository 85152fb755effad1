/**
 * Runs a rendered overlay's training job as real local processes (test/k8s/manifest-run*.test.ts):
 * every PS, chief and worker pod the manifests ask for, substituted only by the recorded local
 * stand-ins (local-substitution.ts), started at once as Kubernetes would, trained to done
 * through a real etcd, then checked: one epoch, every shard committed once, the checkpoint and
 * model on their volumes, /metrics on each scraped port, workers exit 0 by themselves and the
 * rest on SIGTERM.
 */
import { expect } from 'chai';
import type { Etcd3 } from 'etcd3';
import * as fs from 'fs';
import * as path from 'path';
import { CHIEF_SPEC } from '../../../src/cli/chief';
import { silentLogger } from '../../../src/common/logger';
import { Signal } from '../../../src/common/signal';
import { EtcdJobStore } from '../../../src/control/etcd-job-store';
import type { JobResult } from '../../../src/control/job-types';
import { listVersions } from '../../../src/export/model-root';
import type { Child } from '../../../src/local/child';
import { TESSERA_BIN } from '../../../src/local/ps-process';
import { parseArgs } from '../../../src/runtime/args';
import { shardLedger, syntheticData } from '../../helpers/cluster';
import { freePortBlock } from '../../helpers/ports';
import { LocalPlan, materializeVolumes, planLocal } from './local-plan';
import { LocalProcess, substitute, verifyLocal } from './local-substitution';
import { findObject, K8sObject, Manifest, REPO_ROOT } from './manifests';
import { dockerImageConfig, podProcess, PodProcess, podsOf } from './pod-process';
import { spawnPod } from './spawn-pod';

/** The workloads a training job runs, by role: workload kind/name and container name. */
export const TRAINING_ROLES = [
  { role: 'ps', kind: 'StatefulSet', name: 'tessera-ps' },
  { role: 'chief', kind: 'Deployment', name: 'tessera-chief' },
  { role: 'worker', kind: 'Job', name: 'tessera-worker' },
] as const;

/** One pod: as rendered, as run locally, and its process once started. */
export interface RolePod {
  role: string;
  rendered: PodProcess;
  local: LocalProcess;
  child?: Child;
}

/** The substitutions of a pod as `<flag before the token>:<kind>` (argv) or `env.<NAME>:<kind>`. */
export function changes(p: RolePod): string[] {
  return p.local.substitutions.map((s) => {
    const i = /^argv\[(\d+)\]$/.exec(s.where);
    return `${i ? (i[1] === '0' ? '(program)' : p.rendered.argv[Number(i[1]) - 1]) : s.where}:${s.kind}`;
  });
}

/** True when the process logged shutting down on SIGTERM (chief, PS: `{"signal":"SIGTERM","msg":"shutting down"}`). */
export function shutDownOnSigterm(c: Child): boolean {
  return fs.readFileSync(c.logFile, 'utf8').split('\n').some((line) => {
    try {
      const rec = JSON.parse(line) as { signal?: string; msg?: string };
      return rec.signal === 'SIGTERM' && String(rec.msg).startsWith('shutting down');
    } catch {
      return false;
    }
  });
}

/** The last lines of a child's log, for a failure message. */
export function logTail(c: Child): string {
  const text = fs.existsSync(c.logFile) ? fs.readFileSync(c.logFile, 'utf8') : '';
  return `--- ${c.name} (${c.logFile}) ---\n${text.split('\n').slice(-15).join('\n')}`;
}

/**
 * Registers a suite's clean-up: every pod's process is killed and `stop` (its etcd) awaited, and
 * `root` removed, unless a test failed: then its logs and volumes are kept and named.
 */
export function cleanUpRun(state: () => { root: string; pods: { child?: Child }[]; stop?: () => Promise<void> }): void {
  let keep = false;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') keep = true;
  });
  after(async () => {
    const { root, pods, stop } = state();
    await Promise.all(pods.map((p) => p.child?.kill()));
    await stop?.();
    if (root && !keep) fs.rmSync(root, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    else if (root) console.warn(`  logs and volumes kept in ${root}`);
  });
}

/**
 * Every PS, chief and worker pod of `ms`, planned under `root/volumes` with etcd's client port
 * standing in at `etcdHostPort`, volumes created. The images are the CPU image of the Dockerfile.
 */
export async function planTrainingPods(ms: Manifest[], root: string, etcdHostPort: string): Promise<{ pods: RolePod[]; plan: LocalPlan }> {
  const image = dockerImageConfig(path.join(REPO_ROOT, 'Dockerfile'));
  const rendered = TRAINING_ROLES.flatMap((r) => {
    const w = findObject(ms, r.kind, r.name);
    const c = w.spec.template.spec.containers.find((x: K8sObject) => x.name === r.role);
    expect(c?.image, `${r.name}: the CPU image built from Dockerfile`).to.match(/^tessera:/);
    // Every replica the manifest asks for: 2 PS, 2 chiefs (one leads), the Job's parallelism (4).
    return podsOf(w).map((pod) => ({ role: r.role, rendered: podProcess(ms, w, pod, r.role, image) }));
  });
  const etcdSts = findObject(ms, 'StatefulSet', 'tessera-etcd');
  const clientPort = etcdSts.spec.template.spec.containers[0].ports.find((p: K8sObject) => p.name === 'client').containerPort;
  const plan = await planLocal(ms, rendered.map((p) => p.rendered), {
    root: path.join(root, 'volumes'),
    entrypoint: { from: 'tessera', to: TESSERA_BIN },
    standIns: [{ workload: 'tessera-etcd', containerPort: clientPort, to: etcdHostPort }],
    freePort: freePortBlock,
  });
  materializeVolumes(plan, rendered.map((p) => p.rendered), ms);
  return { pods: rendered.map((p) => ({ ...p, local: substitute(p.rendered, plan) })), plan };
}

/**
 * What a local run may change per role: `<flag before the token>:<kind>` for argv,
 * `env.<NAME>:<kind>` for the environment. Anything else that changes fails the check.
 */
export const TRAINING_CHANGES: Record<string, string[]> = {
  ps: ['(program):entrypoint', '--etcd:endpoint', '--port:port', '--checkpoint-root:path', '--advertise:endpoint', '--metrics-port:port', 'env.TESSERA_ETCD:endpoint', 'env.TMPDIR:tmpdir'],
  chief: ['(program):entrypoint', '--etcd:endpoint', '--spec:path', '--data:path', '--eval:path', '--checkpoint-dir:path', '--export-dir:path', '--port:port', '--metrics-port:port',
    'env.TESSERA_ETCD:endpoint', 'env.TMPDIR:tmpdir'],
  worker: ['(program):entrypoint', '--etcd:endpoint', '--port:port', '--metrics-port:port', 'env.TESSERA_ETCD:endpoint', 'env.TMPDIR:tmpdir'],
};

/**
 * Every pod is rendered (2 PS, 2 chiefs, 4 workers), every `$(VAR)` resolved, and its local
 * process differs only by the recorded substitutions of TRAINING_CHANGES plus `extra` (the same
 * for every role); no cluster name survives; ps-1 advertises its own local port.
 */
export function checkTrainingSubstitutions(pods: RolePod[], plan: LocalPlan, extra: string[] = []): void {
  expect(pods.map((p) => p.role)).to.deep.equal(['ps', 'ps', 'chief', 'chief', 'worker', 'worker', 'worker', 'worker']);
  for (const p of pods) {
    expect(p.rendered.argv.join(' '), `${p.local.pod}: every $(VAR) resolves`).not.to.contain('$(');
    expect(verifyLocal(p.rendered, p.local, plan), p.local.pod).to.deep.equal([]);
    expect(changes(p).sort(), `${p.local.pod}: substituted tokens`).to.deep.equal([...TRAINING_CHANGES[p.role], ...extra].sort());
    expect(JSON.stringify([p.local.argv, p.local.env]), `${p.local.pod}: no cluster name survives`).not.to.match(/tessera-(etcd|ps)-\d\.tessera-/);
  }
  const ps1 = pods[1].local;
  const at = (l: LocalProcess, flag: string): string => l.argv[l.argv.indexOf(flag) + 1];
  expect(at(ps1, '--advertise'), 'ps-1 advertises its own local port').to.equal(`127.0.0.1:${at(ps1, '--port')}`);
}

/** How a run reads what it checks beyond etcd: /metrics, and a check while the PS still runs. */
export interface JobRunChecks {
  /** GET `url` (http or https, as the pod serves it). */
  scrape(url: string): Promise<{ status: number; text: string }>;
  /** Run after the job is done, before the PS and chiefs are stopped. */
  whileServing?: () => Promise<void>;
  /** Pods not started with the others (a scale-up): `midJob` starts them. */
  held?: readonly RolePod[];
  /** Run once every other pod is started, before the job's result is awaited; `start` starts a held pod. */
  midJob?: (start: (p: RolePod) => void) => Promise<void>;
  /** How long the job may take to be done (default 60 s). */
  timeoutMs?: number;
}

/** Writes `rows` synthetic Criteo-format rows where the chief's --data and --eval name them. */
async function writeData(chiefArgs: Record<string, string>, rows: number): Promise<void> {
  const data = await syntheticData(rows);
  fs.copyFileSync(data.train, chiefArgs.data);
  fs.copyFileSync(data.evalFile, chiefArgs.eval);
  fs.rmSync(data.dir, { recursive: true, force: true });
}

/**
 * Starts every pod at once (logs under `root/logs`), awaits the job's result through `client`,
 * and checks the trained job (see the file comment). Failures carry each pod's log tail.
 */
export async function trainJobToDone(pods: RolePod[], plan: LocalPlan, root: string, client: Etcd3, rows: number, checks: JobRunChecks): Promise<void> {
  const chiefLocal = pods.find((p) => p.role === 'chief')!.local;
  const chiefArgs = parseArgs(chiefLocal.argv.slice(2), CHIEF_SPEC).options as Record<string, string>;
  await writeData(chiefArgs, rows);
  const logs = path.join(root, 'logs');
  fs.mkdirSync(logs);
  // All at once, as Kubernetes starts them; roles wait for each other through etcd.
  const start = (p: RolePod): void => { p.child = spawnPod(p.local, path.join(logs, `${p.local.pod}.log`)); };
  for (const p of pods) if (!checks.held?.includes(p)) start(p);
  const store = new EtcdJobStore({ client, job: chiefLocal.env.TESSERA_JOB, logger: silentLogger() });
  try {
    await checks.midJob?.(start);
    // A held pod that already exited was scaled away by `midJob` (a drained PS exits 0): not awaited or stopped.
    const gone = (p: RolePod) => !p.child || (checks.held?.includes(p) === true && !p.child.running);
    const result = await awaitDone(store, pods.filter((p) => !gone(p)).map((p) => p.child!), checks.timeoutMs ?? 60_000);
    expect(result.samples, 'one epoch over every row').to.equal(rows);
    expect(result.auc).to.be.a('number');
    const status = (await store.status())!;
    expect(pods.filter((p) => p.role === 'chief').map((c) => c.local.pod), 'a chief pod leads').to.include(status.chief);
    await checkLedger(store, rows);
    checkSaved(result, chiefArgs);
    // Workers complete the Indexed Job by exiting 0 on their own; PS and chiefs exit 0 on SIGTERM.
    const workers = pods.filter((p) => p.role === 'worker').map((p) => p.child!);
    expect(await Promise.all(workers.map((w) => w.exited)), 'worker exit codes').to.deep.equal(workers.map(() => 0));
    await checkScrapes(pods.filter((x) => x.role !== 'worker' && !gone(x)), plan, checks);
    await checks.whileServing?.();
    const rest = pods.filter((p) => p.role !== 'worker' && !gone(p)).map((p) => p.child!);
    const codes = await Promise.all(rest.map((c) => c.stop()));
    expect(codes, rest.map((c) => c.name).join(', ')).to.deep.equal(rest.map(() => 0));
    // Each was still running when SIGTERM came (a Deployment or StatefulSet restarts a container
    // that exits by itself): its log says it shut down on the signal.
    expect(rest.filter((c) => !shutDownOnSigterm(c)).map((c) => c.name), 'exited before SIGTERM').to.deep.equal([]);
    expect(workers.filter(shutDownOnSigterm).map((c) => c.name), 'workers stopped by a signal').to.deep.equal([]);
  } catch (err) {
    (err as Error).message += `\n${pods.flatMap((p) => (p.child ? [logTail(p.child)] : [])).join('\n')}`;
    throw err;
  }
}

async function checkLedger(store: EtcdJobStore, rows: number): Promise<void> {
  const ledger = await shardLedger(await store.snapshot());
  expect(ledger.length).to.be.greaterThan(1);
  for (const s of ledger) {
    expect(s.done, `shard ${s.shard} done`).to.equal(true);
    expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
  }
  expect(ledger.reduce((n, s) => n + s.actual, 0)).to.equal(rows);
  const workersUsed = [...new Set(ledger.map((s) => s.worker))];
  expect(workersUsed.every((w) => /^worker-[0-3]$/.test(w)), workersUsed.join(',')).to.equal(true);
}

/** The final consistent checkpoint on the checkpoint PVC beside the saved model; the model published for serving. */
function checkSaved(result: JobResult, chiefArgs: Record<string, string>): void {
  expect(path.dirname(result.checkpoint!)).to.equal(chiefArgs['checkpoint-dir']);
  expect(fs.existsSync(path.join(result.checkpoint!, 'manifest.json')), 'the final checkpoint\'s manifest').to.equal(true);
  const modelDir = path.join(chiefArgs['checkpoint-dir'], 'model');
  expect(fs.readdirSync(modelDir).length, 'files in the saved model').to.be.greaterThan(0);
  // Issue 14: the chief publishes the job's model as version 1 where tessera serve reads it.
  expect(listVersions(chiefArgs['export-dir'], 'ctr'), 'versions published for serving').to.deep.equal([1]);
  expect(result.model_version).to.equal(1);
}

/** Prometheus scrapes the annotated port of every pod still running (https with --metrics-tls): it serves /metrics. */
async function checkScrapes(running: RolePod[], plan: LocalPlan, checks: JobRunChecks): Promise<void> {
  for (const p of running) {
    const ann = p.rendered.pod.annotations ?? {};
    const port = plan.ports.get(p.local.pod)?.get(Number(ann['prometheus.io/port']));
    const scheme = p.local.argv.includes('--metrics-tls') ? 'https' : 'http';
    const res = await checks.scrape(`${scheme}://127.0.0.1:${port}${ann['prometheus.io/path']}`);
    expect(res.status, `${p.local.pod} /metrics on the scraped port`).to.equal(200);
    expect(res.text).to.contain('process_cpu');
  }
}

/**
 * The job's result once the chief's `status` says done. Woken by job-store changes and process
 * exits (the 500 ms tick is a safety net for the status key, which the watch does not cover);
 * fails as soon as a PS or chief exits or a worker exits non-zero.
 */
export async function awaitDone(store: EtcdJobStore, children: Child[], timeoutMs: number): Promise<JobResult> {
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
