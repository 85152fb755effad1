/**
 * Issue #16: the probes and certificates of deploy/k8s/overlays/tls work against real processes.
 * Each Certificate of the rendered overlay is issued here as its Secret would hold it (tls.crt,
 * tls.key, ca.crt; the URI SAN and host names of its spec) by the code `tessera certs` runs;
 * each Secret's mount path maps to its directory. Then:
 * - a real `tessera ps` started with the PS container's --tls-* flags answers the PS readiness
 *   probe's exact exec command (port and paths mapped), and refuses what the kubelet's own gRPC
 *   probe would send (no certificate);
 * - a real etcd started with the etcd container's args (addresses and paths mapped to a single
 *   local member) passes its etcdctl readiness and liveness commands, and accepts a Tessera
 *   role's certificate as an etcd client (`tessera status` with the worker's Secret).
 */
import { expect } from 'chai';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureCa, issueCert } from '../../src/common/cert-issuer';
import { parseSpiffeId } from '../../src/common/spiffe-id';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { freePort } from '../helpers/ports';
import { spawnNode, Spawned } from '../helpers/spawn';
import { runTessera } from '../helpers/tessera';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import { K8sObject, Manifest, renderOverlay, REPO_ROOT } from './lib/manifests';

const TLS_OVERLAY = path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'tls');

function workload(ms: Manifest[], kind: string, name: string): K8sObject {
  return ms.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name)!.obj;
}

/** Mount path → local directory of the Secret behind it, for one pod template. */
function secretMounts(pod: K8sObject, secretDirs: Map<string, string>): [string, string][] {
  const c = pod.spec.template.spec.containers[0];
  return (c.volumeMounts as K8sObject[]).flatMap((m) => {
    const secret = (pod.spec.template.spec.volumes as K8sObject[]).find((v) => v.name === m.name)?.secret?.secretName;
    return secret ? [[m.mountPath, secretDirs.get(secret)!] as [string, string]] : [];
  });
}

function mapped(args: string[], subs: [string, string][]): string[] {
  return args.map((a) => subs.reduce((s, [from, to]) => s.split(from).join(to), a));
}

/** The TLS flags of a container's args (--tls-cert F --tls-key F --tls-ca F). */
function tlsFlags(args: string[]): string[] {
  return args.flatMap((a, i) => (['--tls-cert', '--tls-key', '--tls-ca'].includes(a) ? [a, args[i + 1]] : []));
}

function runProbe(command: string[]): { code: number | null; out: string } {
  const [bin, ...rest] = command;
  const r = bin === 'tessera' ? spawnSync(process.execPath, [TESSERA_BIN, ...rest], { encoding: 'utf8', timeout: 30_000 })
    : spawnSync(path.basename(bin), rest, { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('deploy/k8s overlays/tls probes and certificates against real processes (issue #16)', function () {
  this.timeout(60_000);
  let ms: Manifest[] = [];
  let dir = '';
  const secretDirs = new Map<string, string>();
  let ps: Spawned | undefined;
  let etcd: ChildProcess | undefined;

  before(async function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    ms = renderOverlay(TLS_OVERLAY);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-k8s-tls-'));
    const job = workload(ms, 'ConfigMap', 'tessera-cluster').data.TESSERA_JOB;
    const { cert: ca } = await ensureCa(path.join(dir, 'ca'), job);
    for (const cert of ms.filter((m) => m.obj.kind === 'Certificate' && !m.obj.spec.isCA).map((m) => m.obj)) {
      const identity = cert.spec.uris ? parseSpiffeId(cert.spec.uris[0]) ?? undefined : undefined;
      const issued = await issueCert(path.join(dir, 'ca'), { name: cert.metadata.name, identity, hosts: [...(cert.spec.dnsNames ?? []), ...(cert.spec.ipAddresses ?? [])] });
      const secret = path.join(dir, cert.spec.secretName);
      fs.mkdirSync(secret);
      fs.copyFileSync(issued.cert, path.join(secret, 'tls.crt'));
      fs.copyFileSync(issued.key, path.join(secret, 'tls.key'));
      fs.copyFileSync(ca, path.join(secret, 'ca.crt'));
      secretDirs.set(cert.spec.secretName, secret);
    }
  });

  after(async () => {
    await ps?.kill();
    etcd?.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tessera ps with the PS container\'s --tls-* answers its exec readiness and liveness probes; a probe without a certificate is refused', async () => {
    const sts = workload(ms, 'StatefulSet', 'tessera-ps');
    const c = sts.spec.template.spec.containers[0];
    const subs = secretMounts(sts, secretDirs);
    ps = spawnNode(TESSERA_BIN, ['ps', '--port', '0', ...mapped(tlsFlags(c.args), subs)]);
    // A PS process runs one shard per core, each on its own port (7000, 7001, …): the probes ask
    // the first shard's port, and every shard answers the same probe.
    const addrs = /ps listening (\S+)/.exec(await ps.waitForLine(/ps listening /, 30_000))![1].split(',');
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      for (const addr of addrs) {
        const r = runProbe(mapped(c[probe].exec.command, [...subs, ['127.0.0.1:7000', addr]]));
        expect(r.code, `${probe} of ${addr}: ${r.out}`).to.equal(0);
      }
    }
    const kubelet = runProbe(['tessera', 'health', '--addr', addrs[0]]);
    expect(kubelet.code, kubelet.out).to.equal(1);
  });

  it('etcd with the etcd container\'s TLS args passes its etcdctl probes and takes a Tessera role\'s certificate as a client', async function () {
    if (spawnSync('etcd', ['--version']).status !== 0 || spawnSync('etcdctl', ['version']).status !== 0) this.skip();
    const sts = workload(ms, 'StatefulSet', 'tessera-etcd');
    const c = sts.spec.template.spec.containers[0];
    const [client, peer, metrics] = await Promise.all([freePort(), freePort(), freePort()]);
    const member = 'tessera-etcd-0';
    // Recorded stand-ins: one local member on free ports (the pod name and DNS names would be the cluster's).
    const addrs: [string, string][] = [
      ['$(POD_NAME).tessera-etcd:2379', `127.0.0.1:${client}`], ['$(POD_NAME).tessera-etcd:2380', `127.0.0.1:${peer}`],
      ['0.0.0.0:2379', `127.0.0.1:${client}`], ['0.0.0.0:2380', `127.0.0.1:${peer}`], ['0.0.0.0:2381', `127.0.0.1:${metrics}`],
      ['$(POD_NAME)', member], ['/var/lib/etcd/data', path.join(dir, 'etcd-data')],
    ];
    const args = mapped((c.args as string[]).map((a) => (a.startsWith('--initial-cluster=') ? `--initial-cluster=${member}=https://127.0.0.1:${peer}` : a)), [...addrs, ...secretMounts(sts, secretDirs)]);
    etcd = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let log = '';
      etcd!.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (/ready to serve client requests/.test(log)) resolve();
      });
      etcd!.once('exit', (code) => reject(new Error(`etcd exited ${code}: ${log.slice(-2000)}`)));
    });
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      const r = runProbe(mapped(c[probe].exec.command, [['127.0.0.1:2379', `127.0.0.1:${client}`], ...secretMounts(sts, secretDirs)]));
      expect(r.code, `${probe}: ${r.out}`).to.equal(0);
    }
    const worker = secretDirs.get('tessera-worker-tls')!;
    const status = await runTessera(['status', '--etcd', `https://127.0.0.1:${client}`, '--list',
      '--tls-cert', path.join(worker, 'tls.crt'), '--tls-key', path.join(worker, 'tls.key'), '--tls-ca', path.join(worker, 'ca.crt')]);
    expect(status.code, status.stderr).to.equal(0);
    const anonymous = spawnSync('etcdctl', [`--endpoints=https://127.0.0.1:${client}`, `--cacert=${path.join(worker, 'ca.crt')}`, '--command-timeout=3s', 'endpoint', 'health'], { encoding: 'utf8' });
    expect(anonymous.status, 'etcdctl without a client certificate is refused').to.not.equal(0);
  });
});
