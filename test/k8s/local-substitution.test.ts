/**
 * Unit tests of the local run's building blocks on the base manifests and the etcd kustomization
 * loaded from their files (no kubectl): pods a workload creates, what a pod would run, the local
 * plan, the substitution and its verifier.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { materializeVolumes, planLocal, podEndpoints, LocalPlan } from './lib/local-plan';
import { LocalProcess, substitute, verifyLocal } from './lib/local-substitution';
import { K8sObject, kustomizationFiles, loadFile, Manifest, REPO_ROOT } from './lib/manifests';
import { dockerImageConfig, ImageConfig, podProcess, PodProcess, podsOf } from './lib/pod-process';

const K8S = path.join(REPO_ROOT, 'deploy', 'k8s');
const ETCD_MEMBERS = 'http://tessera-etcd-0.tessera-etcd:2379,http://tessera-etcd-1.tessera-etcd:2379,http://tessera-etcd-2.tessera-etcd:2379';

function workload(ms: Manifest[], kind: string, name: string): K8sObject {
  return ms.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name)!.obj;
}

describe('test/k8s/lib local run: pods, plan and substitution of the manifests\' commands', () => {
  const ms: Manifest[] = ['base', 'etcd'].flatMap((d) => kustomizationFiles(path.join(K8S, d)).resources.flatMap(loadFile));
  const image: ImageConfig = dockerImageConfig(path.join(REPO_ROOT, 'Dockerfile'));
  const ps = workload(ms, 'StatefulSet', 'tessera-ps');
  const chief = workload(ms, 'Deployment', 'tessera-chief');
  const worker = workload(ms, 'Job', 'tessera-worker');
  let root = '';
  let plan: LocalPlan;
  let procs: PodProcess[];

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-subst-'));
    procs = [
      ...podsOf(ps).map((p) => podProcess(ms, ps, p, 'ps', image)),
      podProcess(ms, chief, podsOf(chief, 1)[0], 'chief', image),
      podProcess(ms, worker, podsOf(worker, 1)[0], 'worker', image),
    ];
    let next = 20_000;
    plan = await planLocal(ms, procs, {
      root, entrypoint: { from: 'tessera', to: '/repo/bin/tessera.js' },
      standIns: [{ workload: 'tessera-etcd', containerPort: 2379, to: '127.0.0.1:9999' }],
      freePort: async (count) => { const base = next; next += count; return base; },
    });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reads the image entrypoint and ENV from the Dockerfile\'s final stage', () => {
    expect(image).to.deep.equal({ entrypoint: ['tessera'], env: { NODE_ENV: 'production' } });
  });

  it('names pods as their controllers do: StatefulSet ordinals, Deployment hash-suffix, Indexed Job index with its annotation', () => {
    expect(podsOf(ps).map((p) => p.name)).to.deep.equal(['tessera-ps-0', 'tessera-ps-1']);
    const chiefs = podsOf(chief).map((p) => p.name);
    expect(chiefs).to.have.length(2);
    expect(chiefs[0]).to.match(/^tessera-chief-[a-z0-9]{10}-[a-z0-9]{5}$/);
    expect(chiefs[0].slice(0, -6)).to.equal(chiefs[1].slice(0, -6));
    expect(chiefs[0]).not.to.equal(chiefs[1]);
    const workers = podsOf(worker, 3);
    expect(workers.map((p) => p.name.replace(/-[a-z0-9]{5}$/, ''))).to.deep.equal(['tessera-worker-0', 'tessera-worker-1', 'tessera-worker-2']);
    expect(workers[2].annotations?.['batch.kubernetes.io/job-completion-index']).to.equal('2');
    expect(podsOf(worker)).to.have.length(worker.spec.parallelism);
  });

  it('builds a pod\'s argv (entrypoint + expanded args) and env (ConfigMap keys, downward API, runtime)', () => {
    const ps1 = procs[1];
    expect(ps1.argv).to.deep.equal(['tessera', 'ps', '--etcd', ETCD_MEMBERS, '--job', 'ctr', '--id', 'ps-{ordinal}', '--port', '7000',
      '--host', '0.0.0.0', '--metrics-host', '0.0.0.0', '--checkpoint-root', '/checkpoints', '--advertise', 'tessera-ps-1.tessera-ps:7000', '--metrics-port', '9400',
      '--shards', '2']);
    // Issue 18: the shard count is the CPU limit, read through the downward API's resourceFieldRef.
    expect(ps1.env).to.deep.equal({ TESSERA_ETCD: ETCD_MEMBERS, TESSERA_JOB: 'ctr', TESSERA_POD_NAME: 'tessera-ps-1', TESSERA_PS_SHARDS: '2' });
    expect(ps1.runtimeEnv).to.deep.equal({ NODE_ENV: 'production', HOSTNAME: 'tessera-ps-1' });
    expect(ps1.ports).to.deep.equal({ grpc: 7000, 'grpc-1': 7001, metrics: 9400 });
    const w = procs[3];
    expect(w.argv.slice(w.argv.indexOf('--id'), w.argv.indexOf('--id') + 2)).to.deep.equal(['--id', 'worker-0']);
    expect(w.runtimeEnv.JOB_COMPLETION_INDEX).to.equal('0');
    expect(procs[2].mounts.map((m) => `${m.mountPath}=${m.volume}${m.readOnly ? ':ro' : ''}`)).to.deep.equal([
      '/tmp=emptyDir/' + procs[2].pod.name + '/tmp', '/etc/tessera=configMap/tessera-job-spec:ro', '/data=pvc/tessera-data:ro', '/checkpoints=pvc/tessera-checkpoints',
    ]);
  });

  it('lists the headless Services\' per-pod names with the container port each reaches', () => {
    const names = podEndpoints(ms).map((e) => `${e.hostPort}->${e.pod}:${e.containerPort}`);
    expect(names).to.include.members(['tessera-ps-1.tessera-ps:7000->tessera-ps-1:7000', 'tessera-ps-0.tessera-ps:9400->tessera-ps-0:9400',
      'tessera-etcd-2.tessera-etcd:2379->tessera-etcd-2:2379', 'tessera-etcd-2.tessera-etcd:2380->tessera-etcd-2:2380']);
  });

  it('plans a distinct local port per pod and container port, local addresses for pod names, one directory per volume', () => {
    expect([...plan.ports.get('tessera-ps-0')!]).to.deep.equal([[7000, 20_000], [7001, 20_001], [9400, 20_002]]);
    expect([...plan.ports.get('tessera-ps-1')!]).to.deep.equal([[7000, 20_003], [7001, 20_004], [9400, 20_005]]);
    expect(plan.endpoints.get('tessera-ps-1.tessera-ps:7000')).to.equal('127.0.0.1:20003');
    expect(plan.endpoints.get('tessera-etcd-1.tessera-etcd:2379')).to.equal('127.0.0.1:9999');
    expect(plan.endpoints.has('tessera-etcd-1.tessera-etcd:2380'), 'no stand-in for the etcd peer port').to.equal(false);
    expect(plan.volumes.get('pvc/tessera-checkpoints')).to.equal(path.join(root, 'pvc', 'tessera-checkpoints'));
  });

  it('substitutes a PS\'s etcd members, ports and advertised name, and records exactly those changes', () => {
    const local = substitute(procs[1], plan);
    expect(local.argv).to.deep.equal(['/repo/bin/tessera.js', 'ps', '--etcd', 'http://127.0.0.1:9999,http://127.0.0.1:9999,http://127.0.0.1:9999', '--job', 'ctr',
      '--id', 'ps-{ordinal}', '--port', '20003', '--host', '0.0.0.0', '--metrics-host', '0.0.0.0', '--checkpoint-root', path.join(root, 'pvc', 'tessera-checkpoints'),
      '--advertise', '127.0.0.1:20003', '--metrics-port', '20005', '--shards', '2']);
    expect(local.env).to.deep.equal({ NODE_ENV: 'production', HOSTNAME: 'tessera-ps-1', TESSERA_ETCD: 'http://127.0.0.1:9999,http://127.0.0.1:9999,http://127.0.0.1:9999',
      TESSERA_JOB: 'ctr', TESSERA_POD_NAME: 'tessera-ps-1', TESSERA_PS_SHARDS: '2', TMPDIR: path.join(root, 'emptyDir', 'tessera-ps-1', 'tmp') });
    expect(local.substitutions.map((s) => `${s.where}:${s.kind}`)).to.deep.equal(['argv[0]:entrypoint', 'argv[3]:endpoint', 'argv[9]:port', 'argv[15]:path',
      'argv[17]:endpoint', 'argv[19]:port', 'env.TESSERA_ETCD:endpoint', 'env.TMPDIR:tmpdir']);
    expect(verifyLocal(procs[1], local, plan)).to.deep.equal([]);
  });

  it('moves a chief\'s mounted paths into the volumes\' directories, shared with the pods that mount the same claim', () => {
    const local = substitute(procs[2], plan);
    const at = (flag: string): string => local.argv[local.argv.indexOf(flag) + 1];
    expect(at('--spec')).to.equal(path.join(root, 'configMap', 'tessera-job-spec', 'job.yaml'));
    expect(at('--data')).to.equal(path.join(root, 'pvc', 'tessera-data', 'train.txt'));
    expect(at('--checkpoint-dir')).to.equal(path.join(root, 'pvc', 'tessera-checkpoints'));
    expect(at('--host')).to.equal('0.0.0.0');
    expect(verifyLocal(procs[2], local, plan)).to.deep.equal([]);
  });

  it('writes each mounted ConfigMap\'s items into its directory', () => {
    materializeVolumes(plan, procs, ms);
    const text = fs.readFileSync(path.join(root, 'configMap', 'tessera-job-spec', 'job.yaml'), 'utf8');
    expect(text).to.equal(workload(ms, 'ConfigMap', 'tessera-job-spec').data['job.yaml']);
    expect(fs.statSync(path.join(root, 'pvc', 'tessera-data')).isDirectory()).to.equal(true);
  });

  it('refuses a cluster host:port that has no local stand-in', () => {
    const p: PodProcess = { ...procs[3], argv: [...procs[3].argv, '--chief', 'tessera-chief:7100'] };
    expect(() => substitute(p, plan)).to.throw(/argv\[\d+\]: no local stand-in for tessera-chief:7100/);
    const peer: PodProcess = { ...procs[3], env: { ...procs[3].env, PEERS: 'http://tessera-etcd-0.tessera-etcd:2380' } };
    expect(() => substitute(peer, plan)).to.throw(/env.PEERS: no local stand-in for tessera-etcd-0.tessera-etcd:2380/);
  });

  describe('verifyLocal catches every change that is not an allowed, recorded substitution', () => {
    let good: LocalProcess;
    before(() => { good = substitute(procs[0], plan); });
    const tamper = (f: (l: LocalProcess) => void): string[] => {
      const l: LocalProcess = JSON.parse(JSON.stringify(good));
      f(l);
      return verifyLocal(procs[0], l, plan);
    };
    const idx = (flag: string): number => procs[0].argv.indexOf(flag) + 1;

    it('a token changed without a record', () => {
      expect(tamper((l) => { l.argv[idx('--job')] = 'other'; })).to.deep.equal([`argv[${idx('--job')}]: changed without a record: "ctr" → "other"`]);
    });

    it('a recorded change that the plan does not allow (another pod\'s port, a cluster name, a non-port)', () => {
      const i = idx('--port');
      expect(tamper((l) => {
        l.argv[i] = '20003';
        l.substitutions.find((s) => s.where === `argv[${i}]`)!.to = '20003';
      })).to.deep.equal([`argv[${i}]: port substitution "7000" → "20003" is not one the plan allows`]);
      expect(tamper((l) => {
        l.argv[idx('--job')] = '7000x';
        l.substitutions.push({ where: `argv[${idx('--job')}]`, kind: 'port', from: 'ctr', to: '7000x' });
      })).to.have.length(1);
      expect(tamper((l) => {
        l.argv[idx('--advertise')] = '127.0.0.1:20003';
        l.substitutions.find((s) => s.where === `argv[${idx('--advertise')}]`)!.to = '127.0.0.1:20003';
      }), 'ps-0 advertising ps-1').to.have.length(1);
    });

    it('a record that does not match the change, or a record where nothing changed', () => {
      const i = idx('--metrics-port');
      expect(tamper((l) => { l.argv[i] = '1'; })[0]).to.match(/record "9400" → "20002" does not match "9400" → "1"/);
      expect(tamper((l) => { l.substitutions.push({ where: 'argv[1]', kind: 'path', from: 'ps', to: 'ps' }); })).to.deep.equal(['argv[1]: substitution recorded but nothing changed']);
    });

    it('a token or env variable added or removed', () => {
      expect(tamper((l) => { l.argv.push('--force'); })).to.deep.equal([`argv[${procs[0].argv.length}]: added ("--force")`]);
      expect(tamper((l) => { l.env.TESSERA_LOG_LEVEL = 'debug'; })).to.deep.equal(['env.TESSERA_LOG_LEVEL: added ("debug")']);
      expect(tamper((l) => { delete l.env.TESSERA_POD_NAME; })).to.deep.equal(['env.TESSERA_POD_NAME: removed ("tessera-ps-0")']);
    });

    it('TMPDIR pointing anywhere but the pod\'s own /tmp volume', () => {
      expect(tamper((l) => {
        l.env.TMPDIR = '/tmp';
        l.substitutions.find((s) => s.where === 'env.TMPDIR')!.to = '/tmp';
      })).to.deep.equal(['env.TMPDIR: substitution recorded but nothing changed']);
      expect(tamper((l) => {
        l.env.TMPDIR = plan.volumes.get(`emptyDir/tessera-ps-1/tmp`)!;
        l.substitutions.find((s) => s.where === 'env.TMPDIR')!.to = l.env.TMPDIR;
      })[0]).to.match(/tmpdir substitution .* is not one the plan allows/);
    });
  });
});
