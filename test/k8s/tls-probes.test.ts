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
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { spawnNode, Spawned } from '../helpers/spawn';
import { runTessera } from '../helpers/tessera';
import { EtcdMember, mapped, secretMounts, startEtcdMember } from './lib/etcd-member';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import { findObject, Manifest, renderOverlay, REPO_ROOT } from './lib/manifests';
import { issueCertificateSecrets, secretTlsFiles } from './lib/tls-secrets';

const TLS_OVERLAY = path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'tls');

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
  let secretDirs = new Map<string, string>();
  let ps: Spawned | undefined;
  let etcd: EtcdMember | undefined;

  before(async function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    ms = renderOverlay(TLS_OVERLAY);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-k8s-tls-'));
    secretDirs = await issueCertificateSecrets(ms, path.join(dir, 'ca'), (name) => path.join(dir, name));
  });

  after(async () => {
    await ps?.kill();
    await etcd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tessera ps with the PS container\'s --tls-* answers its exec readiness and liveness probes; a probe without a certificate is refused', async () => {
    const sts = findObject(ms, 'StatefulSet', 'tessera-ps');
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
    etcd = await startEtcdMember(ms, secretDirs, path.join(dir, 'etcd-data'));
    const client = etcd.clientPort;
    const c = findObject(ms, 'StatefulSet', 'tessera-etcd').spec.template.spec.containers[0];
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      const r = runProbe(mapped(c[probe].exec.command, [[`127.0.0.1:${etcd.containerClientPort}`, `127.0.0.1:${client}`], ...etcd.secretMounts]));
      expect(r.code, `${probe}: ${r.out}`).to.equal(0);
    }
    const worker = secretTlsFiles(secretDirs.get('tessera-worker-tls')!);
    const status = await runTessera(['status', '--etcd', `https://127.0.0.1:${client}`, '--list', '--tls-cert', worker.cert, '--tls-key', worker.key, '--tls-ca', worker.ca]);
    expect(status.code, status.stderr).to.equal(0);
    const anonymous = spawnSync('etcdctl', [`--endpoints=https://127.0.0.1:${client}`, `--cacert=${worker.ca}`, '--command-timeout=3s', 'endpoint', 'health'], { encoding: 'utf8' });
    expect(anonymous.status, 'etcdctl without a client certificate is refused').to.not.equal(0);
  });
});
