/**
 * Issue 22 §4, CLI basics, through the spawned binary: did-you-mean for commands, flags and
 * --model values; --version and `tessera version`; `tessera help <command>`; exit codes 0/1/2;
 * `tessera status` for a job etcd does not hold, and `--list`; ensure-deps installing only what
 * the command run needs.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';
import { runTessera } from '../helpers/tessera';
import { ROOT } from '../helpers/cluster';

describe('issue 22 §4: CLI basics (the tessera binary)', function () {
  this.timeout(60_000);

  it('--version and `tessera version` print the package version; `tessera help train` is train --help', async () => {
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const arg of ['--version', 'version']) {
      const r = await runTessera([arg]);
      expect(r.code, arg).to.equal(0);
      expect(r.stdout).to.equal(`tessera ${version}\n`);
    }
    const help = await runTessera(['help', 'train']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^Usage: tessera train /);
    const usage = await runTessera(['help']);
    expect(usage.stdout).to.contain('Exit codes: 0 done, 1 failed, 2 usage');
  });

  it('did you mean: a command, a flag, a --model value (exit 2, one line)', async () => {
    const cmd = await runTessera(['trian']);
    expect(cmd.code).to.equal(2);
    expect(cmd.stderr).to.equal('tessera: unknown command "trian" (did you mean train?); run `tessera help` for the commands\n');
    const flag = await runTessera(['local', '--epoch', '2']);
    expect(flag.code).to.equal(2);
    expect(flag.stderr).to.contain('unknown option --epoch (did you mean --epochs?)');
    const model = await runTessera(['train', '--model', 'deepfn']);
    expect(model.code).to.equal(2);
    expect(model.stderr).to.contain('--model: unknown model "deepfn" (did you mean deepfm?)');
  });

  describe('tessera status', () => {
    let etcd: EtcdHandle | undefined;
    before(async function () {
      requireEtcd(this);
      etcd = await startEtcd();
      const client = createEtcdClient(etcd.url);
      await client.put('/tessera/alpha/spec').value('{}');
      await client.put('/tessera/beta/state').value('{}');
      client.close();
    });
    after(async () => etcd?.stop());

    it('an unknown job: "no job X" with the jobs etcd holds, exit 1 (it was exit 0 with empty sections)', async () => {
      const r = await runTessera(['status', '--etcd', etcd!.url, '--job', 'gamma']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal(`tessera status: no job gamma in etcd at ${etcd!.url}; its jobs: alpha, beta\n`);
      expect(r.stdout).to.equal('');
    });

    it('--list names the jobs (text, and JSON with -o json)', async () => {
      const text = await runTessera(['status', '--etcd', etcd!.url, '--list']);
      expect(text.code, text.stderr).to.equal(0);
      expect(text.stdout).to.equal('alpha\nbeta\n');
      const json = await runTessera(['status', '--etcd', etcd!.url, '--list', '-o', 'json']);
      expect(JSON.parse(json.stdout)).to.deep.equal({ jobs: ['alpha', 'beta'] });
    });
  });

  it('ensure-deps start installs only what running needs; test adds the test tools (dry run)', () => {
    // Paths where nothing is: kubectl and Chromium count as missing whatever this machine has.
    const env = { ...process.env, TESSERA_DEPS_DRY_RUN: '1', KUBECTL: '/nonexistent/kubectl', CHROMIUM_PATH: '/nonexistent/chromium' };
    const run = (mode: string) => spawnSync('bash', [path.join(ROOT, 'scripts', 'ensure-deps.sh'), mode], { cwd: ROOT, env, encoding: 'utf8' });
    const start = run('start');
    expect(start.status, start.stderr).to.equal(0);
    expect(start.stderr).to.not.match(/kubectl|kubernetes-client|chromium/i);
    const test = run('test');
    expect(test.status, test.stderr).to.equal(0);
    expect(test.stderr).to.match(/kubernetes-client|kubectl is not installed/);
  });
});
