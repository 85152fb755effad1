/**
 * Issue #15 §1 and §3 "Exactly-once", on real processes: a real redis-server, a real etcd, a
 * `tessera replay` into two partitions, a stream job of 2 PS and 2 workers. A worker is killed
 * with SIGKILL mid-stream (its partitions move to the other worker, which resumes from the
 * committed entry ids), the job is stopped and resumed from its latest checkpoint, and more
 * events arrive meanwhile. In the end every partition's committed row count equals the events
 * written to it, and its position is its last entry: every event counted exactly once.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listCheckpoints } from '../../src/checkpoint';
import { RedisStreamLog } from '../../src/stream/redis-stream-log';
import { parseStreamUrl } from '../../src/stream/stream-url';
import { awaitSnapshot, clusterSuite, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';
import { redisForSuite } from '../helpers/redis';
import { lastJson, runTessera } from '../helpers/tessera';

const ROWS = 12_000;
const PARTITIONS = 2;

/** Writes the first and the second half of `file`'s lines to two files. */
function halves(file: string): [string, string] {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const mid = Math.floor(lines.length / 2);
  const out: [string, string] = [`${file}.a`, `${file}.b`];
  fs.writeFileSync(out[0], `${lines.slice(0, mid).join('\n')}\n`);
  fs.writeFileSync(out[1], `${lines.slice(mid).join('\n')}\n`);
  return out;
}

async function replay(file: string, url: string): Promise<number[]> {
  const r = await runTessera(['replay', file, '--to', url, '--partitions', String(PARTITIONS), '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return lastJson(r.stdout).per_partition as number[];
}

describe('stream job: exactly-once positions across kill -9 and resume (issue #15)', function () {
  this.timeout(300_000);
  const redis = redisForSuite();
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `stream-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: redis.handle.streamUrl('clicks'), partitions: PARTITIONS,
    evalEvery: 0, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));

  it('counts every event once per partition after a worker kill -9 and a stop/resume from a checkpoint', async () => {
    const url = redis.handle.streamUrl('clicks');
    const [first, second] = halves(suite.data.train);
    const written = await replay(first, url);
    const checkpointDir = path.join(suite.data.dir, 'checkpoints');
    const c = await suite.start({ checkpointDir, checkpointEvery: 1, supervise: false });
    await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.worker === 'worker-0' && p.rows > 0) ? true : undefined), 'worker-0 to commit a position');
    await c.workers[0].kill();
    // The survivor takes every partition over from the committed entry ids and trains on.
    const taken = await awaitSnapshot(c, (s) => {
      const held = [...s.assignments.values()];
      return held.length === PARTITIONS && held.every((a) => a.worker === 'worker-1') ? [...s.progress.values()].reduce((n, p) => n + p.rows, 0) : undefined;
    }, 'worker-1 to hold every partition');
    await awaitSnapshot(c, (s) => ([...s.progress.values()].reduce((n, p) => n + p.rows, 0) > taken ? true : undefined), 'worker-1 to train past the hand-over');
    const before = (await listCheckpoints(checkpointDir)).length;
    const deadline = Date.now() + 60_000;
    while ((await listCheckpoints(checkpointDir)).length <= before) {
      if (Date.now() > deadline) throw new Error(`no checkpoint after the hand-over; logs in ${c.opts.runDir}`);
      await new Promise((r) => setTimeout(r, 100)); // re-checks a directory the chief fills; not ordering
    }
    await c.stop();

    // More events arrive while the job is stopped; the resumed job trains them too.
    const more = await replay(second, url);
    const total = written.map((n, i) => n + more[i]);
    const resumed = await suite.start({ checkpointDir, resume: 'latest', data: undefined, supervise: false });
    const final = await awaitSnapshot(resumed, (s) => {
      const ps = [...s.progress.values()];
      return ps.length === PARTITIONS && ps.every((p) => p.rows >= total[p.shard]) ? s : undefined;
    }, `every partition to reach ${total.join(', ')} rows`, 180_000);
    const log = new RedisStreamLog(parseStreamUrl(url));
    try {
      for (let p = 0; p < PARTITIONS; p++) {
        const progress = final.progress.get(p)!;
        expect(progress.rows, `rows committed for partition ${p}`).to.equal(total[p]);
        const [last] = await log.newest(`clicks:${p}`, 1);
        expect(progress.entry, `position of partition ${p}`).to.equal(last.id);
      }
    } finally {
      await log.close();
    }
    expect(total.reduce((a, b) => a + b, 0)).to.equal(ROWS);
    expect((await snapshotOf(resumed)).state?.restoredFrom, 'the job resumed from a checkpoint').to.be.a('string');
  });
});
