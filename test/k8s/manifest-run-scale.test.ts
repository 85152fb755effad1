/**
 * Issue 17 on the rendered `cpu` overlay, run as local processes (as manifest-run.test.ts): the
 * PS StatefulSet is scaled 2 -> 3 mid-job (its third pod, tessera-ps-2, with shards ps-4 and
 * ps-5, starts once training has begun), the chief moves buckets to it, and then the pod's own
 * preStop hook, the rendered command with only the entrypoint substituted, drains it (scale back
 * to 2): the hook returns 0 once the pod holds nothing and the PS exits 0 by itself. The job
 * completes with every row counted once, and publishes its model once (version 1 only): the
 * drained PS's exit, even at the epoch's end, is a planned exit to the chief, not a PS change
 * that abandons the epoch-end checkpoint and publishes the same weights again (issue 17).
 */
import { expect } from 'chai';
import type { Etcd3 } from 'etcd3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import { ShardMapStore } from '../../src/membership/shard-map-store';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import type { ShardMap } from '../../src/sharding/shard-map';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';
import { lastJson } from '../helpers/tessera';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import { cleanUpRun, planTrainingPods, RolePod, trainJobToDone } from './lib/job-run';
import { findObject, renderOverlay, REPO_ROOT } from './lib/manifests';
import { spawnPod } from './lib/spawn-pod';

// Enough rows that the job still trains through the join (two migrations) and the drain (two
// more): on an idle 2-core machine with the http2 data plane and the native kernels, 80,000 rows
// were done before the preStop hook's drain began (it then ends "job-ended", not "done").
const ROWS = 400_000;
const CPU_OVERLAY = path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'cpu');

/** Re-reads the job's records until `pick` returns a value (the cluster moves towards it; the deadline names a hang). */
async function until<T>(read: () => Promise<T>, pick: (v: T) => boolean, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (pick(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('deploy/k8s overlays/cpu: the PS StatefulSet scaled 2 -> 3 mid-job and back by its preStop drain (issue 17)', function () {
  this.timeout(300_000);
  let etcd: EtcdHandle | undefined;
  let root = '';
  let pods: RolePod[] = [];

  before(async function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    requireEtcd(this);
    etcd = await startEtcd();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-k8s-scale-'));
  });

  cleanUpRun(() => ({ root, pods, stop: async () => etcd?.stop() }));

  it('tessera-ps-2 joins and takes buckets; its preStop hook drains it; the job completes with every row counted once', async () => {
    const ms = renderOverlay(CPU_OVERLAY);
    const sts = findObject(ms, 'StatefulSet', 'tessera-ps');
    sts.spec.replicas = 3; // kubectl scale statefulset tessera-ps --replicas 3
    const hook = sts.spec.template.spec.containers[0].lifecycle.preStop.exec.command as string[];
    const planned = await planTrainingPods(ms, root, new URL(etcd!.url).host);
    pods = planned.pods;
    const third = pods.find((p) => p.local.pod === 'tessera-ps-2')!;
    const client = createEtcdClient(etcd!.url);
    const job = third.local.env.TESSERA_JOB;
    const maps = new ShardMapStore({ client, job, logger: silentLogger() });
    const owns = (m: ShardMap | undefined, ids: number[]) => !!m && ids.every((id) => m.owner.some((o) => m.ps[o].id === id));
    try {
      await trainJobToDone(pods, planned.plan, root, client, ROWS, {
        scrape: async (url) => { const r = await fetch(url); return { status: r.status, text: await r.text() }; },
        held: [third],
        timeoutMs: 240_000,
        midJob: async (start) => {
          await trainingStarted(client, job);
          start(third);
          await until(() => maps.get(), (m) => owns(m, [4, 5]), 'ps-4 and ps-5 (tessera-ps-2) owning buckets');
          expect(hook[0], 'the hook runs the image entrypoint').to.equal('tessera');
          const drain = spawnPod({ ...third.local, pod: 'tessera-ps-2-prestop', argv: [third.local.argv[0], ...hook.slice(1), '--json'] }, path.join(root, 'prestop.log'));
          expect(await drain.exited, fs.readFileSync(drain.logFile, 'utf8')).to.equal(0);
          expect(lastJson(fs.readFileSync(drain.logFile, 'utf8'))).to.deep.include({ ps: ['ps-4', 'ps-5'], done: true });
          expect(await third.child!.exited, 'the drained PS exits 0 by itself').to.equal(0);
          const after = await maps.get();
          expect(after!.ps.map((p) => p.id), 'the PS left once the pod was drained').to.deep.equal([0, 1, 2, 3]);
        },
      });
    } finally {
      client.close();
    }
  });
});

/** Resolves once a data shard has committed rows. */
async function trainingStarted(client: Etcd3, job: string): Promise<void> {
  const store = new EtcdJobStore({ client, job, logger: silentLogger() });
  await until(() => store.snapshot(), (s) => [...s.progress.values()].some((p) => p.rows > 0), 'training to start');
}
