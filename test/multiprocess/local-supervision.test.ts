/**
 * Issue 23: `tessera local` supervises like Kubernetes would. The test a user would run: start
 * `tessera local` (two chiefs by default), kill -9 a PS, then the leading chief. Each death is
 * reported on the terminal with its restart; the PS comes back under its id and is restored from
 * the latest checkpoint, the standby chief takes over, and the job finishes with every row counted
 * once (read from the job's records in etcd, which the test owns so they outlive the run).
 *
 * Every wait is on an event: a line on the terminal, a record in etcd, a line in a log.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { JobSnapshot } from '../../src/control/job-store';
import type { CheckpointPointer, JobStatus } from '../../src/control/job-types';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import type { Member } from '../../src/membership/membership';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';
import { shardLedger, syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';
import { lastJson } from '../helpers/tessera';
import { spawnNode, Spawned } from '../helpers/spawn';

const ROWS = 100_000;
let JOB = '';

describe('tessera local supervises its processes (issue 23; real processes)', function () {
  this.timeout(300_000);
  let data: { dir: string; train: string; evalFile: string };
  let etcd: EtcdHandle | undefined;
  let run: Spawned | undefined;
  let keep = false;

  before(async function () {
    requireEtcd(this);
    data = await syntheticData(ROWS);
    etcd = await startEtcd();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') keep = true;
    await run?.kill('SIGINT');
  });
  after(async () => {
    await etcd?.stop();
    if (data && !keep) fs.rmSync(data.dir, { recursive: true, force: true });
  });

  /** What the test reads from etcd: the job's records, its members, the checkpoint pointer and status. */
  interface Seen { snap: JobSnapshot; members: Member[]; pointer: CheckpointPointer | undefined; status: JobStatus | undefined }

  /** Re-reads etcd until `pick` returns a value (the records only move towards it). */
  async function awaitEtcd<T>(pick: (s: Seen) => T | undefined, what: string, timeoutMs = 120_000): Promise<T> {
    const client = createEtcdClient(etcd!.url);
    try {
      const store = new EtcdJobStore({ client, job: JOB, logger: silentLogger() });
      const membership = new EtcdMembership({ client, job: JOB, logger: silentLogger() });
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const [snap, members, pointer, status] = await Promise.all([store.snapshot(), membership.list(), store.checkpointPointer(), store.status()]);
        const v = pick({ snap, members, pointer, status });
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; logs in ${data.dir}/run`);
    } finally {
      client.close();
    }
  }

  it('kill -9 of a PS, then of the leading chief: each restart is reported, and the job finishes with every row counted once', async () => {
    JOB = `supervised-${process.pid}`;
    const runDir = path.join(data.dir, 'run');
    run = spawnNode(TESSERA_BIN, ['local', '--etcd', etcd!.url, '--name', JOB, '--job', SYNTHETIC_SPEC, '--data', data.train, '--eval', data.evalFile,
      '--ps', '2', '--workers', '2', '--checkpoint-every', '1', '--run-dir', runDir, '--json'], { env: { TESSERA_TF_BACKEND: 'wasm' } });
    // 1. Training, with a checkpoint on disk; then kill -9 ps-1.
    await awaitEtcd(({ snap, pointer }) => ([...snap.progress.values()].some((p) => p.rows > 0) && pointer ? true : undefined), 'training and a first checkpoint');
    const ps1 = await awaitEtcd(({ members }) => members.find((x) => x.role === 'ps' && x.id === 'ps-1'), 'ps-1');
    process.kill(ps1.pid, 'SIGKILL');
    await run.waitForLine(/tessera local: ps-1 exited \(killed by SIGKILL\); restart #1 in [\d.]+ s/, 30_000);
    // 2. It comes back as a new incarnation, and the chief restores its buckets.
    await awaitEtcd(({ members }) => members.find((x) => x.role === 'ps' && x.id === 'ps-1' && x.incarnation !== ps1.incarnation), 'ps-1 to come back');
    await awaitEtcd(() => (/restored their buckets from the latest checkpoint/.test(chiefLogs(runDir)) ? true : undefined), 'the chief to restore ps-1');
    // 3. kill -9 the leading chief, while the job still trains.
    const leader = await awaitEtcd(({ snap, status, members }) => (snap.state?.phase === 'train' && status
      ? members.find((x) => x.role === 'chief' && x.id === status.chief) : undefined), 'the leading chief, training');
    process.kill(leader.pid, 'SIGKILL');
    await run.waitForLine(new RegExp(`tessera local: ${leader.id} exited \\(killed by SIGKILL\\); restart #1 in [\\d.]+ s`), 30_000);
    // 4. The run ends on its own: exit 0, every row once, led to the end by the standby.
    const exit = await run.exited;
    expect(exit.code, run.lines.slice(-20).join('\n')).to.equal(0);
    expect(run.stderr.filter((l) => /exited \(/.test(l)), 'one line per restart').to.have.length(2);
    expect(lastJson(run.stdout.join('\n')).samples).to.equal(ROWS);
    const end = await awaitEtcd(({ snap }) => (snap.state?.phase === 'done' ? snap : undefined), 'the job state done');
    const finisher = fs.readdirSync(runDir).filter((f) => /^chief-\d+\.log$/.test(f) && /"msg":"job done"/.test(fs.readFileSync(path.join(runDir, f), 'utf8')));
    expect(finisher, 'the standby led the job to its end').to.deep.equal([`${['chief-0', 'chief-1'].find((c) => c !== leader.id)}.log`]);
    const ledger = await shardLedger(end);
    for (const s of ledger) expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
    expect(ledger.reduce((n, s) => n + s.actual, 0)).to.equal(ROWS);
  });

  it('gives up on a process that keeps failing right after it starts, and ends the run with its last log line', async () => {
    JOB = `give-up-${process.pid}`;
    const runDir = path.join(data.dir, 'give-up');
    run = spawnNode(TESSERA_BIN, ['local', '--etcd', etcd!.url, '--name', JOB, '--job', SYNTHETIC_SPEC, '--data', data.train,
      '--ps', '1', '--workers', '1', '--run-dir', runDir, '--json'], { env: { TESSERA_TF_BACKEND: 'wasm' } });
    await awaitEtcd(({ snap }) => ([...snap.progress.values()].some((p) => p.rows > 0) ? true : undefined), 'training to start');
    const ps0 = await awaitEtcd(({ members }) => members.find((x) => x.role === 'ps' && x.id === 'ps-0'), 'ps-0');
    // Kill it and take its port: every restart on that port now fails at once (EADDRINUSE).
    process.kill(ps0.pid, 'SIGKILL');
    await run.waitForLine(/tessera local: ps-0 exited \(killed by SIGKILL\); restart #1 in/, 30_000); // it is gone, its port free
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(Number(ps0.addr.split(':').pop()), '0.0.0.0', resolve));
    try {
      const exit = await run.exited;
      expect(exit.code, run.lines.slice(-20).join('\n')).to.equal(1);
      const err = run.stderr.join('\n');
      expect(err).to.match(/ps-0 exited \(exit code 1\); not restarting it: it failed \d times in a row right after starting/);
      expect(err).to.match(/tessera local: ps-0 keeps failing right after it starts \(exit code 1\): .*EADDRINUSE/);
      expect(run.stdout.join(''), 'no result for a run that failed').to.equal('');
    } finally {
      squatter.close();
    }
  });
});

function chiefLogs(runDir: string): string {
  if (!fs.existsSync(runDir)) return '';
  return fs.readdirSync(runDir).filter((f) => /^chief-\d+\.log$/.test(f)).map((f) => fs.readFileSync(path.join(runDir, f), 'utf8')).join('\n');
}
