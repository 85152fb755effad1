/**
 * Issue #16: the rendered `tls` overlay (deploy/k8s/overlays/tls), run as a whole job of real
 * local processes, as manifest-run.test.ts runs the `cpu` overlay (shared: lib/job-run.ts):
 * - the Secrets its cert-manager Certificates would hold, issued by `tessera certs`' code
 *   (lib/tls-secrets.ts), at the local directories of their mounts;
 * - etcd started with the etcd container's TLS args (lib/etcd-member.ts: client-certificate
 *   auth for clients and peers);
 * - every PS, chief and worker with the overlay's --tls-* flags and `--metrics-tls`, and
 *   TESSERA_ETCD over https. The substitutions are the cpu overlay's plus the three certificate
 *   mount paths (path → local file), nothing else.
 * The job trains to done; a client without a certificate is refused by the PS and by etcd.
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { PsConnection } from '../../src/wire/ps-connection';
import { httpsClientOptions, HttpsClientOptions, loadTlsConfig, openTls, TlsConfig } from '../../src/wire/tls';
import { requireEtcd } from '../helpers/etcd';
import { EtcdMember, startEtcdMember } from './lib/etcd-member';
import { checkTrainingSubstitutions, cleanUpRun, planTrainingPods, RolePod, trainJobToDone } from './lib/job-run';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import type { LocalPlan } from './lib/local-plan';
import { renderOverlay, REPO_ROOT } from './lib/manifests';
import { issueCertificateSecrets, secretTlsFiles } from './lib/tls-secrets';

const ROWS = 20_000;
const TLS_OVERLAY = path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'tls');
/** The PS's data-plane container port (base/ps.yaml). */
const PS_PORT = 7000;

/**
 * GET `url` over HTTPS as the holder of `tls` (the server is checked by its job, as Tessera's
 * clients do); a server silent for 10 s fails the request instead of hanging the test.
 */
function httpsScrape(tls: HttpsClientOptions) {
  return (url: string): Promise<{ status: number; text: string }> => new Promise((resolve, reject) => {
    const req = https.get(url, { ...tls, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

describe('deploy/k8s overlays/tls, run as local processes: the mutual-TLS job trains to done (issue #16)', function () {
  this.timeout(120_000); // the TLS overlay's job on 2 cores; the limit turns a hang into a failure
  let root = '';
  let etcd: EtcdMember | undefined;
  let pods: RolePod[] = [];
  let plan: LocalPlan;
  let admin: TlsConfig;
  let secretDirs = new Map<string, string>();

  before(async function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    requireEtcd(this);
    const ms = renderOverlay(TLS_OVERLAY);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-k8s-tls-run-'));
    // Where planLocal puts a `secret/<name>` volume: the Secret's files live there.
    secretDirs = await issueCertificateSecrets(ms, path.join(root, 'ca'), (name) => path.join(root, 'volumes', 'secret', name));
    etcd = await startEtcdMember(ms, secretDirs, path.join(root, 'etcd-data'));
    ({ pods, plan } = await planTrainingPods(ms, root, `127.0.0.1:${etcd.clientPort}`));
    admin = loadTlsConfig({}, secretTlsFiles(secretDirs.get('tessera-admin-tls')!))!;
  });

  cleanUpRun(() => ({ root, pods, stop: async () => etcd?.stop() }));

  it('substitutes only the cpu overlay\'s local stand-ins and the certificate mount paths; every role has --tls-*, --metrics-tls and an https etcd', () => {
    checkTrainingSubstitutions(pods, plan, ['--tls-cert:path', '--tls-key:path', '--tls-ca:path']);
    for (const p of pods) {
      const secret = p.rendered.mounts.find((m) => m.mountPath === '/etc/tessera/tls')?.volume;
      expect(secret, `${p.local.pod}: its role's Secret`).to.equal(`secret/tessera-${p.role}-tls`);
      expect(plan.volumes.get(secret!), `${p.local.pod}: the Secret's issued files`).to.equal(secretDirs.get(`tessera-${p.role}-tls`));
      expect(p.local.argv, p.local.pod).to.include('--metrics-tls');
      expect(p.local.env.TESSERA_ETCD.split(','), p.local.pod).to.deep.equal([1, 2, 3].map(() => `https://127.0.0.1:${etcd!.clientPort}`));
    }
  });

  it('the PS, both chiefs and every worker train to done over mutual TLS; a client without a certificate is refused by the PS and by etcd', async () => {
    const url = `https://127.0.0.1:${etcd!.clientPort}`;
    const ca = fs.readFileSync(admin.ca);
    const client = createEtcdClient(url, { credentials: admin });
    const whileServing = async (): Promise<void> => {
      const ps = `127.0.0.1:${plan.ports.get('tessera-ps-0')!.get(PS_PORT)}`;
      const adminConn = new PsConnection({ addr: ps, maxMessageBytes: 1 << 20, credentials: openTls(admin).channelCredentials() });
      // TLS with the job's CA, but no client certificate: the server accepts only the CA's holders.
      const anonymous = new PsConnection({ addr: ps, maxMessageBytes: 1 << 20, credentials: grpc.credentials.createSsl(ca, null, null, { checkServerIdentity: () => undefined }) });
      const anonymousEtcd = createEtcdClient(url, { credentials: { ca: admin.ca } });
      try {
        expect(await adminConn.adminCall('Stats', {}, 10_000), 'the admin certificate is let in').to.be.an('object');
        const refused = await anonymous.adminCall('Stats', {}, 10_000).then(() => null, (e: { code: string }) => e);
        expect(refused?.code, 'the PS refuses a client without a certificate').to.equal('TESSERA_ERR_UNAVAILABLE');
        const etcdRefused = await anonymousEtcd.get('tessera').string().then(() => null, (e: Error) => e);
        expect(etcdRefused, 'etcd refuses a client without a certificate').to.be.instanceOf(Error);
      } finally {
        adminConn.close();
        anonymous.close();
        anonymousEtcd.close();
      }
    };
    try {
      await trainJobToDone(pods, plan, root, client, ROWS, { scrape: httpsScrape(httpsClientOptions(admin)), whileServing });
    } finally {
      client.close();
    }
  });
});
