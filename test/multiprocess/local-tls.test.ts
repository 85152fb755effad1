/**
 * Issue #16 §4: a whole `tessera local --tls` job trains to done with mutual TLS between every
 * process and client-certificate auth at its etcd, and `etcdctl` without a client certificate
 * is refused by that etcd (with the run's admin certificate it is let in).
 */
import { expect } from 'chai';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireEtcd } from '../helpers/etcd';
import { lastJson, runTessera } from '../helpers/tessera';

function etcdctl(url: string, tlsDir: string, withCert: boolean): { code: number | null; out: string } {
  const certs = withCert ? ['--cert', path.join(tlsDir, 'admin.crt'), '--key', path.join(tlsDir, 'admin.key')] : [];
  const r = spawnSync('etcdctl', ['--endpoints', url, '--cacert', path.join(tlsDir, 'ca.crt'), ...certs, '--dial-timeout', '3s', '--command-timeout', '3s', 'get', '--prefix', '/tessera/', '--keys-only'],
    { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('tessera local --tls (issue #16)', function () {
  this.timeout(240_000);
  let dir: string;
  before(function () {
    requireEtcd(this);
    if (spawnSync('etcdctl', ['version']).status !== 0) {
      if (process.env.TESSERA_REQUIRE_ETCD === '1') throw new Error('etcdctl not installed: apt-get install -y etcd-client');
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-local-tls-'));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('trains to done over mutual TLS; its etcd refuses etcdctl without a client certificate', async () => {
    const runDir = path.join(dir, 'run');
    const tlsDir = path.join(runDir, 'tls');
    let probed: { without: ReturnType<typeof etcdctl>; with: ReturnType<typeof etcdctl>; status: ReturnType<typeof spawnSync>; statusBare: ReturnType<typeof spawnSync> } | undefined;
    const run = await runTessera(['local', '--tls', '--ps', '2', '--workers', '2', '--synthetic-rows', '100000', '--epochs', '1', '--run-dir', runDir, '--json'], {
      onStderr: (text) => {
        const m = /etcd (https:\/\/127\.0\.0\.1:\d+), job (\S+)/.exec(text);
        const status = (certs: string[]) => spawnSync(process.execPath, [TESSERA_BIN, 'status', '--etcd', m![1], '--job', m![2], '--json', ...certs], { encoding: 'utf8', timeout: 30_000 });
        if (m && !probed) {
          probed = {
            without: etcdctl(m[1], tlsDir, false), with: etcdctl(m[1], tlsDir, true),
            status: status(['--etcd-cert', path.join(tlsDir, 'admin.crt'), '--etcd-key', path.join(tlsDir, 'admin.key'), '--etcd-ca', path.join(tlsDir, 'ca.crt')]),
            statusBare: status(['--etcd-ca', path.join(tlsDir, 'ca.crt')]),
          };
        }
      },
    });
    expect(run.code, run.stderr).to.equal(0);
    expect(lastJson(run.stdout).samples).to.equal(100_000); // enough rows that etcd is still up when the status probes run
    expect(probed, 'the run printed its https etcd URL').to.not.equal(undefined);
    expect(probed!.without.code, probed!.without.out).to.not.equal(0);
    // etcdctl only reports that no connection came up ("all SubConns are in TransientFailure").
    expect(probed!.without.out).to.not.contain('/tessera/');
    expect(probed!.with.code, probed!.with.out).to.equal(0);
    expect(probed!.with.out).to.contain('/tessera/');
    // tessera status takes the etcd TLS flags; without a client certificate it fails naming etcd, no stack trace.
    expect(probed!.status.status, String(probed!.status.stderr)).to.equal(0);
    expect(() => JSON.parse(String(probed!.status.stdout).trim().split('\n').pop()!)).to.not.throw();
    expect(probed!.statusBare.status).to.not.equal(0);
    expect(String(probed!.statusBare.stderr), String(probed!.statusBare.stderr)).to.match(/etcd/).and.not.match(/\n\s+at /);
    // Every role ran with its own identity.
    for (const [file, role] of [['ps-0.log', 'ps'], ['worker-1.log', 'worker'], ['chief-0.log', 'chief']]) {
      expect(fs.readFileSync(path.join(runDir, file), 'utf8'), file).to.match(new RegExp(`"tls":\\{"job":"[^"]+","role":"${role}"`));
    }
  });
});
